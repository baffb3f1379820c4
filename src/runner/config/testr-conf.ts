import { configError } from './config-error.js';
import { interpolate, parseIni } from './ini.js';
import { DEFAULT_TIMEOUTS, type RunnerConfig } from './runner-config.js';
import { checkCommandOptions, checkRegex } from './validate.js';

/** The keys testrepository reads, plus `test_server_command` (SPEC §14.2). */
export const TESTR_KEYS = [
  'test_command',
  'test_id_option',
  'test_list_option',
  'test_id_list_default',
  'group_regex',
  'filter_tags',
  'test_run_concurrency',
  'instance_provision',
  'instance_execute',
  'instance_dispose',
  'test_server_command',
] as const;

const KNOWN: ReadonlySet<string> = new Set(TESTR_KEYS);

/** Read `.testr.conf` text into the normalised config (SPEC §14.2). `file` names it in errors. */
export function parseTestrConf(text: string, file: string): RunnerConfig {
  const sections = parseIni(text, file);
  const other = sections.find((s) => s.name !== 'DEFAULT');
  if (other !== undefined) throw configError(file, `[${other.name}]`, 'only the [DEFAULT] section is read; move its keys there', other.line);
  const section = sections[0];
  if (section === undefined) throw configError(file, undefined, 'no [DEFAULT] section');
  for (const [key, { line }] of section.values) {
    if (!KNOWN.has(key)) throw configError(file, key, `unknown key (known keys: ${TESTR_KEYS.join(', ')})`, line);
  }
  const get = (key: (typeof TESTR_KEYS)[number]): string | undefined => (section.values.has(key) ? interpolate(section, key, file) : undefined);
  const lineOf = (key: string): number | undefined => section.values.get(key)?.line;

  const testCommand = get('test_command');
  const testServerCommand = get('test_server_command');
  if (testCommand === undefined && testServerCommand === undefined) {
    throw configError(file, 'test_command', 'is required (or test_server_command for server mode)');
  }
  for (const key of ['test_command', 'test_server_command', 'test_run_concurrency', 'instance_provision'] as const) {
    const v = get(key);
    if (v !== undefined && v.trim() === '') throw configError(file, key, 'is empty', lineOf(key));
  }
  const testIdOption = get('test_id_option');
  const testListOption = get('test_list_option');
  if (testCommand !== undefined) {
    checkCommandOptions(file, { command: 'test_command', idOption: 'test_id_option', listOption: 'test_list_option' }, testCommand, testIdOption, testListOption);
  }
  // testrepository treats an empty group_regex as none.
  const groupRegex = get('group_regex') || undefined;
  if (groupRegex !== undefined) checkRegex(file, 'group_regex', groupRegex);
  const provision = get('instance_provision');
  const execute = get('instance_execute');
  const dispose = get('instance_dispose');
  if (provision === undefined && (execute !== undefined || dispose !== undefined)) {
    const key = execute !== undefined ? 'instance_execute' : 'instance_dispose';
    throw configError(file, key, 'has no effect without instance_provision (testrepository ignores it silently)', lineOf(key));
  }
  const concurrencyCommand = get('test_run_concurrency');
  const testIdListDefault = get('test_id_list_default');
  const filterTags = get('filter_tags');
  return {
    file,
    format: 'testr',
    mode: testServerCommand === undefined ? 'legacy' : 'server',
    ...(testCommand === undefined ? {} : { testCommand }),
    ...(testIdOption === undefined ? {} : { testIdOption }),
    ...(testListOption === undefined ? {} : { testListOption }),
    ...(testIdListDefault === undefined ? {} : { testIdListDefault }),
    ...(groupRegex === undefined ? {} : { groupRegex }),
    filterTags: filterTags === undefined ? [] : filterTags.split(/\s+/).filter((t) => t !== ''),
    concurrency: concurrencyCommand === undefined ? { kind: 'auto' } : { kind: 'command', command: concurrencyCommand },
    ...(provision === undefined
      ? {}
      : { instances: { provision, ...(execute === undefined ? {} : { execute }), ...(dispose === undefined ? {} : { dispose }) } }),
    ...(testServerCommand === undefined ? {} : { testServerCommand }),
    servers: [],
    timeouts: { ...DEFAULT_TIMEOUTS },
  };
}
