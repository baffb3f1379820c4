import { parseDuration } from '../../core/abort.js';
import { configError } from './config-error.js';
import { DEFAULT_TIMEOUTS, type Concurrency, type RunnerConfig, type RunnerTimeouts, type ServerEntry } from './runner-config.js';
import { checkCommandOptions, checkRegex, parseServerUrl } from './validate.js';

const TOP = [
  'testCommand',
  'testIdOption',
  'testListOption',
  'testIdListDefault',
  'groupRegex',
  'filterTags',
  'concurrency',
  'instances',
  'testServerCommand',
  'servers',
  'resources',
  'timeouts',
] as const;
/** Members a JSON config may hold; `$schema` is allowed for editors. */
export const JSON_CONFIG_KEYS: readonly string[] = [...TOP, '$schema'];

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Read `subrun.config.json` text into the normalised config (SPEC §14.5). `file` names it in errors. */
export function parseJsonConfig(text: string, file: string): RunnerConfig {
  let root: unknown;
  try {
    root = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (error) {
    throw configError(file, undefined, `not valid JSON: ${(error as Error).message}`);
  }
  if (!isObject(root)) throw configError(file, undefined, 'must hold one JSON object');
  onlyKeys(file, '', root, JSON_CONFIG_KEYS);
  const str = (key: string): string | undefined => optionalString(file, key, root[key]);

  const testCommand = str('testCommand');
  const testServerCommand = str('testServerCommand');
  const testIdOption = str('testIdOption');
  const testListOption = str('testListOption');
  const testIdListDefault = str('testIdListDefault');
  const groupRegex = str('groupRegex') || undefined;
  if (groupRegex !== undefined) checkRegex(file, 'groupRegex', groupRegex);
  for (const [key, v] of [['testCommand', testCommand], ['testServerCommand', testServerCommand]] as const) {
    if (v !== undefined && v.trim() === '') throw configError(file, key, 'is empty');
  }
  if (testCommand !== undefined) {
    checkCommandOptions(file, { command: 'testCommand', idOption: 'testIdOption', listOption: 'testListOption' }, testCommand, testIdOption, testListOption);
  }
  const servers = parseServers(file, root.servers);
  if (testCommand === undefined && testServerCommand === undefined && servers.length === 0) {
    throw configError(file, 'testCommand', 'is required (or testServerCommand / servers for server mode)');
  }
  const spawned = servers.find((s) => s.kind === 'local' || s.kind === 'ssh');
  if (spawned !== undefined && testServerCommand === undefined) {
    throw configError(file, 'servers', `${spawned.url} starts a server, so testServerCommand is required`);
  }
  const instances = parseInstances(file, root.instances);
  return {
    file,
    format: 'json',
    mode: testServerCommand === undefined && servers.length === 0 ? 'legacy' : 'server',
    ...(testCommand === undefined ? {} : { testCommand }),
    ...(testIdOption === undefined ? {} : { testIdOption }),
    ...(testListOption === undefined ? {} : { testListOption }),
    ...(testIdListDefault === undefined ? {} : { testIdListDefault }),
    ...(groupRegex === undefined ? {} : { groupRegex }),
    filterTags: parseStringArray(file, 'filterTags', root.filterTags),
    concurrency: parseConcurrency(file, root.concurrency),
    ...(instances === undefined ? {} : { instances }),
    ...(testServerCommand === undefined ? {} : { testServerCommand }),
    servers,
    ...(root.resources === undefined ? {} : { resources: parseResources(file, root.resources) }),
    timeouts: parseTimeouts(file, root.timeouts),
  };
}

function onlyKeys(file: string, path: string, obj: Obj, allowed: readonly string[]): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) {
      throw configError(file, path === '' ? key : `${path}.${key}`, `unknown member (known: ${allowed.filter((k) => k !== '$schema').join(', ')})`);
    }
  }
}

function optionalString(file: string, key: string, v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw configError(file, key, `must be a string, got ${JSON.stringify(v)}`);
  return v;
}

function parseStringArray(file: string, key: string, v: unknown): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || x === '' || /\s/.test(x))) {
    throw configError(file, key, 'must be an array of non-empty strings without spaces');
  }
  return [...(v as string[])];
}

function positiveInt(file: string, key: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 100_000) {
    throw configError(file, key, `must be a positive integer, got ${JSON.stringify(v)}`);
  }
  return v;
}

function parseConcurrency(file: string, v: unknown): Concurrency {
  if (v === undefined || v === 'auto') return { kind: 'auto' };
  if (typeof v === 'number') return { kind: 'fixed', count: positiveInt(file, 'concurrency', v) };
  if (isObject(v)) {
    onlyKeys(file, 'concurrency', v, ['command']);
    const command = optionalString(file, 'concurrency.command', v.command);
    if (command === undefined || command.trim() === '') throw configError(file, 'concurrency.command', 'must be a non-empty string');
    return { kind: 'command', command };
  }
  throw configError(file, 'concurrency', `must be a positive integer, "auto" or {"command": "..."}, got ${JSON.stringify(v)}`);
}

function parseInstances(file: string, v: unknown): RunnerConfig['instances'] {
  if (v === undefined) return undefined;
  if (!isObject(v)) throw configError(file, 'instances', 'must be an object {provision, execute?, dispose?}');
  onlyKeys(file, 'instances', v, ['provision', 'execute', 'dispose']);
  const provision = optionalString(file, 'instances.provision', v.provision);
  if (provision === undefined || provision.trim() === '') throw configError(file, 'instances.provision', 'is required and must be a non-empty string');
  const execute = optionalString(file, 'instances.execute', v.execute);
  const dispose = optionalString(file, 'instances.dispose', v.dispose);
  return { provision, ...(execute === undefined ? {} : { execute }), ...(dispose === undefined ? {} : { dispose }) };
}

function parseServers(file: string, v: unknown): ServerEntry[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw configError(file, 'servers', 'must be an array of URLs or {url, count} objects');
  const out: ServerEntry[] = [];
  v.forEach((entry, i) => {
    const key = `servers[${i}]`;
    if (typeof entry === 'string') {
      out.push(parseServerUrl(file, key, entry));
      return;
    }
    if (!isObject(entry)) throw configError(file, key, 'must be a URL string or {url, count}');
    onlyKeys(file, key, entry, ['url', 'count']);
    const url = optionalString(file, `${key}.url`, entry.url);
    if (url === undefined) throw configError(file, `${key}.url`, 'is required');
    const count = entry.count === undefined ? 1 : positiveInt(file, `${key}.count`, entry.count);
    const parsed = parseServerUrl(file, `${key}.url`, url);
    for (let n = 0; n < count; n++) out.push(parsed);
  });
  return out;
}

function parseResources(file: string, v: unknown): RunnerConfig['resources'] {
  if (!isObject(v)) throw configError(file, 'resources', 'must be an object {pool, perBatch}');
  onlyKeys(file, 'resources', v, ['pool', 'perBatch']);
  const pool = optionalString(file, 'resources.pool', v.pool);
  if (pool === undefined || !/^wss?:\/\/[^/]/.test(pool)) throw configError(file, 'resources.pool', `must be a ws:// or wss:// URL, got ${JSON.stringify(v.pool)}`);
  if (!isObject(v.perBatch)) throw configError(file, 'resources.perBatch', 'must be an object {name: count}');
  const perBatch: Record<string, number> = {};
  for (const [name, count] of Object.entries(v.perBatch)) {
    if (name === '') throw configError(file, 'resources.perBatch', 'a resource name is empty');
    perBatch[name] = positiveInt(file, `resources.perBatch.${name}`, count);
  }
  return { pool, perBatch };
}

function parseTimeouts(file: string, v: unknown): RunnerTimeouts {
  const out: RunnerTimeouts = { ...DEFAULT_TIMEOUTS };
  if (v === undefined) return out;
  if (!isObject(v)) throw configError(file, 'timeouts', 'must be an object {handshake, hang, perTest, list}');
  onlyKeys(file, 'timeouts', v, ['handshake', 'hang', 'perTest', 'list']);
  const names = { handshake: 'handshakeMs', hang: 'hangMs', perTest: 'perTestMs', list: 'listMs' } as const;
  for (const [member, field] of Object.entries(names) as Array<[keyof typeof names, (typeof names)[keyof typeof names]]>) {
    const raw = v[member];
    if (raw === undefined) continue;
    out[field] = duration(file, `timeouts.${member}`, raw);
  }
  return out;
}

function duration(file: string, key: string, v: unknown): number {
  let ms: number;
  if (typeof v === 'number') ms = v;
  else if (typeof v === 'string') {
    try {
      ms = parseDuration(v);
    } catch {
      throw configError(file, key, `must be a duration like 500ms, 30s, 5m or 1h, got ${JSON.stringify(v)}`);
    }
  } else throw configError(file, key, `must be milliseconds or a duration string, got ${JSON.stringify(v)}`);
  if (!Number.isFinite(ms) || ms <= 0 || ms > 2_147_483_647) throw configError(file, key, `must be a positive duration under 24 days, got ${JSON.stringify(v)}`);
  return ms;
}
