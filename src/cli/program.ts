import { Command, CommanderError } from 'commander';
import { SubrunError } from '../core/errors.js';
import { createContext, ExitCode, type CliContext, type CliIO } from './context.js';
import { VERSION } from './version.js';
import { registerServeCommands } from './serve.js';
import { registerHistoryCommands } from './history.js';
import { registerPoolCommands } from './pool.js';
import { registerInitCommands } from './init.js';
import { registerStreamCommands } from './stream.js';
import { registerCheckCommands } from './check.js';
import { registerRunCommands } from './run.js';

/**
 * Builds the commander program over the given streams (STYLE §7). Each command
 * group lives in its own file under src/cli/ and registers itself here.
 */
export function createProgram(ctx: CliContext): Command {
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
  registerServeCommands(program, ctx);
  registerHistoryCommands(program, ctx);
  registerPoolCommands(program, ctx);
  registerInitCommands(program, ctx);
  registerStreamCommands(program, ctx);
  registerCheckCommands(program, ctx);
  registerRunCommands(program, ctx);
  return program;
}

/** Run the CLI with `argv` (without node and script) and return the exit code. */
export async function runCli(argv: readonly string[], io: CliIO): Promise<number> {
  return (await runCliWithContext(argv, io)).exitCode;
}

/** Like runCli, but returns the whole context (main() needs `exitWhenDone`). */
export async function runCliWithContext(argv: readonly string[], io: CliIO): Promise<CliContext> {
  const ctx = createContext(io);
  const program = createProgram(ctx);
  propagateExitOverride(program, ctx);
  try {
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
