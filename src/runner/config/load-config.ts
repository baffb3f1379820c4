import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { configError } from './config-error.js';
import { parseJsonConfig } from './json-config.js';
import type { RunnerConfig } from './runner-config.js';
import { parseTestrConf } from './testr-conf.js';

export const TESTR_CONF = '.testr.conf';
export const JSON_CONFIG = 'subrun.config.json';
/** Larger config files are refused before they are read. */
const MAX_CONFIG_BYTES = 1024 * 1024;

/** Parse config text by its file name's format. */
export function parseConfig(text: string, file: string): RunnerConfig {
  return path.basename(file).endsWith('.json') ? parseJsonConfig(text, file) : parseTestrConf(text, file);
}

/** Read one config file (either format, chosen by its name). */
export async function readConfigFile(file: string): Promise<RunnerConfig> {
  const abs = path.resolve(file);
  let size: number;
  try {
    size = (await stat(abs)).size;
  } catch (error) {
    throw configError(abs, undefined, `cannot read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  if (size > MAX_CONFIG_BYTES) throw configError(abs, undefined, `is ${size} bytes; a config file may hold at most ${MAX_CONFIG_BYTES}`);
  const text = await readFile(abs, 'utf8');
  return parseConfig(text, abs);
}

/**
 * Find and read the configuration of a project directory (SPEC §14.1):
 * subrun.config.json or .testr.conf, never both.
 */
export async function loadConfig(dir: string): Promise<RunnerConfig> {
  const json = path.resolve(dir, JSON_CONFIG);
  const testr = path.resolve(dir, TESTR_CONF);
  const [hasJson, hasTestr] = await Promise.all([exists(json), exists(testr)]);
  if (hasJson && hasTestr) {
    throw configError(json, undefined, `and ${TESTR_CONF} are both present; keep one so that nobody edits the file that is not read`);
  }
  if (!hasJson && !hasTestr) {
    throw configError(path.resolve(dir), undefined, `has no ${JSON_CONFIG} or ${TESTR_CONF} (create one with \`subrun init\`)`);
  }
  return readConfigFile(hasJson ? json : testr);
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}
