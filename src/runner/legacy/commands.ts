import type { RunnerConfig } from '../config/runner-config.js';
import { substituteShell, type TemplateValue } from '../../core/shell.js';

const TEST_VARS = ['IDOPTION', 'IDFILE', 'IDLIST', 'LISTOPT'] as const;

function commandOf(config: RunnerConfig): string {
  if (config.testCommand === undefined) throw new Error(`${config.file} has no test_command`);
  return config.testCommand;
}

/** `extraArgs` are appended to the command as quoted words (testr's `-- testargs`). */
function withArgs(command: string, extraArgs: readonly string[]): string {
  return extraArgs.length === 0 ? command : `${command} ${substituteShell('$A', ['A'], { A: { words: extraArgs } })}`;
}

/** The listing command line (SPEC §14.3): `$LISTOPT` on, `$IDLIST` the default list, the rest empty. */
export function listCommand(config: RunnerConfig, extraArgs: readonly string[] = []): string {
  const values: Record<string, TemplateValue> = { LISTOPT: { text: config.testListOption ?? '' } };
  if (config.testIdListDefault !== undefined) values.IDLIST = { text: config.testIdListDefault };
  return substituteShell(withArgs(commandOf(config), extraArgs), TEST_VARS, values);
}

/**
 * The command line that runs `ids` (SPEC §14.3, §14.4), or every test when `ids` is
 * null. `idFile` is the path of the file holding the ids, one per line.
 */
export function runCommand(config: RunnerConfig, ids: readonly string[] | null, idFile: string | null, extraArgs: readonly string[] = []): string {
  const template = withArgs(commandOf(config), extraArgs);
  // testrepository: with no ids every variable is empty (a serial run with
  // test_id_list_default passes those ids instead, which runLegacy does).
  if (ids === null) return substituteShell(template, TEST_VARS, {});
  const data: Record<string, TemplateValue> = { IDLIST: { words: ids } };
  if (idFile !== null) data.IDFILE = { word: idFile };
  // $IDOPTION is shell text from the config; its own variables are data, quoted where they stand.
  const idOption = substituteShell(config.testIdOption ?? '', TEST_VARS, data);
  return substituteShell(template, TEST_VARS, { ...data, IDOPTION: { text: idOption } });
}

/** Wrap a command in `instance_execute` (SPEC §14.2): `$COMMAND` is shell text, the others data. */
export function instanceCommand(execute: string, instanceId: string, command: string, files: string | null): string {
  return substituteShell(execute, ['INSTANCE_ID', 'COMMAND', 'FILES'], {
    INSTANCE_ID: { word: instanceId },
    COMMAND: { text: command },
    FILES: files === null ? { text: '' } : { word: files },
  });
}
