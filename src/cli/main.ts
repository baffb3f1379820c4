import { runCliWithContext } from './program.js';

/** Process entry point used by bin/subrun.js: the only place that binds real stdio. */
export function main(): void {
  // A closed pipe downstream (`subrun stream decode | head`) is a normal end, not a crash.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
  runCliWithContext(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    cwd: process.cwd(),
    isTTY: process.stdout.isTTY === true,
  }).then(
    (ctx) => {
      process.exitCode = ctx.exitCode;
      if (ctx.exitWhenDone) process.exit(ctx.exitCode);
    },
    (error: unknown) => {
      process.stderr.write(`subrun: internal error: ${String(error)}\n`);
      process.exitCode = 3;
    },
  );
}
