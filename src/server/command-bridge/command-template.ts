/**
 * testrepository's `.testr.conf` command template: `test_command` with `$LISTOPT`
 * (replaced by `test_list_option` when listing) and `$IDOPTION` (replaced by
 * `test_id_option` when running chosen ids, itself holding `$IDFILE` or `$IDLIST`).
 * Unlike testr, every id and path that reaches the shell is quoted for where it
 * stands (core/shell.ts): a test id never passes through the shell unquoted.
 */
import { InvalidArgumentError } from '../../core/errors.js';
import { shellQuote, substituteShell, type TemplateValue } from '../../core/shell.js';

const VARS = ['IDOPTION', 'IDFILE', 'IDLIST', 'LISTOPT'] as const;

export interface CommandTemplate {
  /** e.g. `python3 -m subunit.run discover . $LISTOPT $IDOPTION` */
  testCommand: string;
  /** e.g. `--list` */
  listOption?: string;
  /** e.g. `--load-list $IDFILE` */
  idOption?: string;
}

export { shellQuote };

export function validateTemplate(template: CommandTemplate): void {
  if (typeof template?.testCommand !== 'string' || template.testCommand.trim() === '') {
    throw new InvalidArgumentError('testCommand', 'a non-empty shell command', template?.testCommand);
  }
  for (const name of ['listOption', 'idOption'] as const) {
    const v = template[name];
    if (v !== undefined && typeof v !== 'string') throw new InvalidArgumentError(name, 'a string', v);
  }
}

/** The shell command that lists tests. */
export function listCommand(template: CommandTemplate): string {
  return substituteShell(template.testCommand, VARS, { LISTOPT: { text: template.listOption ?? '' } });
}

/**
 * The shell command that runs `ids` (all tests when undefined). `idFile` is the path
 * of a file already holding the ids, one per line, for `$IDFILE`. Ids and the path
 * are data, quoted for where they stand (SPEC §14.4), as the runner does.
 */
export function runCommand(template: CommandTemplate, ids: readonly string[] | undefined, idFile: string | undefined): string {
  if (ids === undefined) return substituteShell(template.testCommand, VARS, {});
  if (template.idOption === undefined) {
    throw new InvalidArgumentError('idOption', 'set (test_id_option) to run chosen tests', undefined);
  }
  const data: Record<string, TemplateValue> = { IDLIST: { words: ids } };
  if (idFile !== undefined) data.IDFILE = { word: idFile };
  const idOption = substituteShell(template.idOption, VARS, data);
  return substituteShell(template.testCommand, VARS, { ...data, IDOPTION: { text: idOption } });
}
