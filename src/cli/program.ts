import { Command, CommanderError } from 'commander';
import { SubrunError } from '../core/errors.js';
import { createContext, ExitCode, type CliContext, type CliIO } from './context.js';
import { VERSION } from './version.js';

type Register = (program: Command, ctx: CliContext) => void;

interface CommandGroup {
  /** The top-level commands the group registers (a test keeps this in step with the modules). */
  readonly commands: readonly string[];
  readonly load: () => Promise<Register>;
}

/**
 * Each command group lives in its own file under src/cli/ and registers itself;
 * listed in help order. Loading them all costs a few hundred milliseconds of imports
 * (the runner, the pool, the test server...), so a command line loads only the group
 * it names: `subrun failing` does not pay for the pool server.
 */
export const COMMAND_GROUPS: readonly CommandGroup[] = [
  { commands: ['serve'], load: async () => (await import('./serve.js')).registerServeCommands },
  { commands: ['last', 'failing', 'slowest', 'stats', 'history', 'load'], load: async () => (await import('./history.js')).registerHistoryCommands },
  { commands: ['pool'], load: async () => (await import('./pool.js')).registerPoolCommands },
  { commands: ['init'], load: async () => (await import('./init.js')).registerInitCommands },
  { commands: ['stream'], load: async () => (await import('./stream.js')).registerStreamCommands },
  { commands: ['check'], load: async () => (await import('./check.js')).registerCheckCommands },
  { commands: ['run', 'list'], load: async () => (await import('./run.js')).registerRunCommands },
];

/**
 * Builds the commander program over the given streams (STYLE §7), with the command
 * groups `argv` needs (see groupsFor); every group when `argv` is not given.
 */
export async function createProgram(ctx: CliContext, argv?: readonly string[]): Promise<Command> {
  const program = new Command('subrun')
    .description(
      'Long-lived test servers, a testr-compatible parallel runner and a leak-proof resource pool, ' +
        'all speaking subunit v2. See README.md and SPEC.md.',
    )
    .version(VERSION, '-V, --version')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({
      writeOut: (s) => ctx.stdout.write(s),
      writeErr: (s) => ctx.stderr.write(s),
    })
    .addHelpText(
      'after',
      '\nExit codes: 0 success, 1 test failures, 2 usage or configuration error,\n' +
        '3 infrastructure error (I/O, peer, server, pool), 130 interrupted.',
    );
  const groups = argv === undefined ? COMMAND_GROUPS : groupsFor(argv);
  // Imported side by side, registered in help order.
  const registers = await Promise.all(groups.map((g) => g.load()));
  for (const register of registers) register(program, ctx);
  return program;
}

/**
 * The groups a command line needs. The root program takes no option with a value, so
 * the first word not starting with `-` is the command: a known one needs its group
 * only; `--version` alone needs none; anything else (help, no command, an unknown or
 * misspelled one, whose suggestions come from every name) needs them all.
 */
export function groupsFor(argv: readonly string[]): readonly CommandGroup[] {
  const first = argv.find((a) => !a.startsWith('-'));
  if (first !== undefined) {
    const group = COMMAND_GROUPS.find((g) => g.commands.includes(first));
    return group === undefined ? COMMAND_GROUPS : [group];
  }
  const versionOnly = argv.some((a) => a === '-V' || a === '--version') && !argv.some((a) => a === '-h' || a === '--help');
  return versionOnly ? [] : COMMAND_GROUPS;
}

/** Run the CLI with `argv` (without node and script) and return the exit code. */
export async function runCli(argv: readonly string[], io: CliIO): Promise<number> {
  return (await runCliWithContext(argv, io)).exitCode;
}

/** Like runCli, but returns the whole context (main() needs `exitWhenDone`). */
export async function runCliWithContext(argv: readonly string[], io: CliIO): Promise<CliContext> {
  const ctx = createContext(io);
  try {
    const program = await createProgram(ctx, argv);
    propagateExitOverride(program, ctx);
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    ctx.exitCode = reportError(error, ctx);
  }
  return ctx;
}

function propagateExitOverride(command: Command, ctx: CliContext): void {
  for (const sub of command.commands) {
    sub.exitOverride().configureOutput({
      writeOut: (s) => ctx.stdout.write(s),
      writeErr: (s) => ctx.stderr.write(s),
    });
    propagateExitOverride(sub, ctx);
  }
}

function reportError(error: unknown, ctx: CliContext): number {
  if (error instanceof CommanderError) {
    // commander has already printed its message; help and version are successes.
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') {
      return ExitCode.OK;
    }
    return ExitCode.USAGE;
  }
  if (error instanceof SubrunError) {
    ctx.stderr.write(`subrun: ${error.message} [${error.code}]\n`);
    return isUsageCode(error.code) ? ExitCode.USAGE : ExitCode.ERROR;
  }
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  ctx.stderr.write(`subrun: internal error: ${message}\n`);
  return ExitCode.ERROR;
}

const USAGE_CODES = new Set(['ERR_INVALID_ARGUMENT', 'ERR_USAGE', 'ERR_CONFIG', 'ERR_INVALID_DURATION']);

function isUsageCode(code: string): boolean {
  return USAGE_CODES.has(code);
}
