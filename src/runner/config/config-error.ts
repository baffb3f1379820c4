import { SubrunError } from '../../core/errors.js';

/** An ERR_CONFIG error naming the file, the key and (for INI) the line (SPEC §14.2, §14.5). */
export function configError(file: string, key: string | undefined, problem: string, line?: number): SubrunError {
  const where = key === undefined ? file : `${file}: ${key}`;
  const at = line === undefined ? '' : ` (line ${line})`;
  return new SubrunError('ERR_CONFIG', `${where}${at}: ${problem}`, {
    details: { file, ...(key === undefined ? {} : { key }), ...(line === undefined ? {} : { line }) },
  });
}
