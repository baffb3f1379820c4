/**
 * testrepository's `.testr.conf` command template: `test_command` with `$LISTOPT`
 * (replaced by `test_list_option` when listing) and `$IDOPTION` (replaced by
 * `test_id_option` when running chosen ids, itself holding `$IDFILE` or `$IDLIST`).
 * Unlike testr, every id and path that reaches the shell is single-quoted here: a
 * test id never passes through the shell unquoted.
 */
import { InvalidArgumentError } from '../../core/errors.js';

export interface CommandTemplate {
  /** e.g. `python3 -m subunit.run discover . $LISTOPT $IDOPTION` */
  testCommand: string;
  /** e.g. `--list` */
  listOption?: string;
  /** e.g. `--load-list $IDFILE` */
  idOption?: string;
}

/** Quote a string for POSIX sh: single quotes, with each `'` written as `'\''`. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

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
  return expand(template.testCommand, { LISTOPT: template.listOption ?? '', IDOPTION: '' });
}

/**
 * The shell command that runs `ids` (all tests when undefined). `idFile` is the path
 * of a file already holding the ids, one per line, for `$IDFILE`.
 */
export function runCommand(template: CommandTemplate, ids: readonly string[] | undefined, idFile: string | undefined): string {
  if (ids === undefined) return expand(template.testCommand, { LISTOPT: '', IDOPTION: '' });
  if (template.idOption === undefined) {
    throw new InvalidArgumentError('idOption', 'set (test_id_option) to run chosen tests', undefined);
  }
  const idOption = expand(template.idOption, {
    IDFILE: idFile === undefined ? '' : shellQuote(idFile),
    IDLIST: ids.map(shellQuote).join(' '),
  });
  return expand(template.testCommand, { LISTOPT: '', IDOPTION: idOption, IDFILE: idFile === undefined ? '' : shellQuote(idFile), IDLIST: ids.map(shellQuote).join(' ') });
}

/** Replace `$NAME` for the given names only; other `$...` (shell variables) are left to the shell. */
function expand(text: string, values: Record<string, string>): string {
  return text.replace(/\$(LISTOPT|IDOPTION|IDFILE|IDLIST)\b/g, (whole, name: string) => values[name] ?? whole);
}
