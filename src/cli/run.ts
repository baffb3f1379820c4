import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Option, type Command } from 'commander';
import { systemClock } from '../core/clock.js';
import { InvalidArgumentError, SubrunError } from '../core/errors.js';
import { FileRepository } from '../repository/file-repository.js';
import { ProgressLine } from '../report/progress.js';
import { junitFromResults } from '../report/run-junit.js';
import { FailureCollector, formatFailure, formatTotals } from '../report/summary.js';
import { loadConfig, readConfigFile } from '../runner/config/load-config.js';
import type { RunnerConfig } from '../runner/config/runner-config.js';
import type { IsolationFinding } from '../runner/fleet/isolation.js';
import { listSelectedTests, outcomeExitCode, runTests, type RunOutcome, type RunRequest } from '../runner/run.js';
import { sshArgsFromEnv } from '../transport/index.js';
import { ExitCode, type CliContext } from './context.js';

interface RunFlags {
  parallel?: number | true;
  serial?: boolean;
  failing?: boolean;
  partial?: boolean;
  loadList?: string;
  isolated?: boolean;
  analyzeIsolation?: boolean;
  untilFailure?: boolean;
  subunit?: boolean;
  junit?: string;
  repo?: string;
  config?: string;
}

const RUN_HELP = `
Modes: with test_server_command (or servers) in the config, tests run on warm test
servers started once and reused for every batch (server mode); with only test_command,
one process per partition, exactly as testr (legacy mode).

Scheduling: recorded durations from the history give an LPT plan (longest first onto
the least-loaded server); further batches go to whichever server is free (work
stealing); group_regex keeps groups together.

Servers: a server that dies or hangs mid-batch is killed; the test it was running is
reported failed with its exit status and stderr tail; the rest of its batch is
rescheduled on a fresh server while the restart budget lasts. Ctrl-C stops cleanly and
keeps every result received (the run is stored as interrupted); a second Ctrl-C exits now.

Output: on a terminal a live progress line, failures as they happen and a summary;
off a terminal plain lines; --subunit: only the merged subunit v2 stream on stdout
(tagged worker-N like testr; RPC packets never appear).

Exit codes: 0 every test passed; 1 failures, or no test ran (an empty selection is not
a success; \`--failing\` with nothing failing says so and exits 0); 2 usage or
configuration error; 3 infrastructure: servers that would not start, tests left unrun
after the restart budget was spent; 130 interrupted.`;

/** `subrun run` and `subrun list`: the runner (SPEC §14). */
export function registerRunCommands(program: Command, ctx: CliContext): void {
  program
    .command('run')
    .summary('run the tests (testr run): warm test servers or the legacy test_command')
    .description('Run the tests of the project in the current directory (.testr.conf or subrun.config.json) and record the results in the history (.subrun/).')
    .argument('[filters...]', 'regular expressions; a test runs when any matches somewhere in its id (testr\'s filters)')
    .addOption(new Option('-j, --parallel [n]', 'servers or partitions to use (no number: the config\'s concurrency, else the CPU count)').argParser(parseCount))
    .addOption(new Option('--serial', 'one server or process').conflicts('parallel'))
    .option('--failing', 'run only the tests that are failing now (implies --partial)')
    .option('--partial', 'only update the failing set for the tests this run reports')
    .option('--load-list <file>', 'run only the test ids in FILE, one a line (implies --partial)')
    .option('--isolated', 'run each test in a fresh server (legacy mode: a fresh process)')
    .option('--analyze-isolation', 'after the run, bisect what ran before each failing test on its server to name the test that breaks it')
    .option('--until-failure', 'repeat the run until a run has failures (or Ctrl-C)')
    .option('--subunit', 'write the merged subunit v2 stream to stdout and nothing else')
    .option('--junit <file>', 'also write the results as JUnit XML to FILE')
    .option('--repo <dir>', 'the history repository (default: .subrun in the current directory)')
    .option('--config <file>', 'the configuration file (default: subrun.config.json or .testr.conf here)')
    .addHelpText('after', RUN_HELP)
    .action(async (filters: string[], flags: RunFlags) => {
      await runCommand(ctx, filters, flags);
    });

  program
    .command('list')
    .summary('list the tests (testr list-tests), honouring filters')
    .description('List the test ids of the project, one a line: from a test server in server mode, from test_command with $LISTOPT in legacy mode.\nExit 1 if no test matches.')
    .argument('[filters...]', 'regular expressions; only ids any of them matches are listed')
    .option('--config <file>', 'the configuration file (default: subrun.config.json or .testr.conf here)')
    .action(async (filters: string[], flags: { config?: string }) => {
      const config = await configFor(ctx, flags.config);
      const ids = await listSelectedTests({ config, cwd: ctx.cwd, env: ctx.env, filters, sshArgs: sshArgsFromEnv(ctx.env) });
      for (const id of ids) ctx.stdout.write(`${id}\n`);
      if (ids.length === 0) ctx.fail(ExitCode.FAILURES);
    });
}

async function runCommand(ctx: CliContext, filters: string[], flags: RunFlags): Promise<void> {
  const config = await configFor(ctx, flags.config);
  const loadList = flags.loadList === undefined ? undefined : await readIdList(path.resolve(ctx.cwd, flags.loadList));
  const concurrency = flags.serial === true ? 1 : typeof flags.parallel === 'number' ? flags.parallel : flags.parallel === true ? undefined : config.mode === 'legacy' ? 1 : undefined;
  const repo = FileRepository.open(path.resolve(ctx.cwd, flags.repo ?? '.subrun'), { create: true });
  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = (): void => {
    interrupts++;
    if (interrupts === 1) {
      ctx.stderr.write('\nsubrun: interrupted; stopping the servers and keeping the results so far (Ctrl-C again to quit now)\n');
      controller.abort(new SubrunError('ERR_ABORTED', 'interrupted'));
    } else {
      process.exit(ExitCode.INTERRUPTED);
    }
  };
  process.on('SIGINT', onSigint);
  try {
    for (;;) {
      const outcome = await runOnce(ctx, config, repo, filters, flags, { concurrency, loadList, signal: controller.signal });
      if (outcome === undefined) return;
      const code = outcomeExitCode(outcome);
      if (flags.untilFailure !== true || code !== 0) {
        ctx.fail(code);
        return;
      }
    }
  } finally {
    process.off('SIGINT', onSigint);
    repo.close();
  }
}

async function runOnce(
  ctx: CliContext,
  config: RunnerConfig,
  repo: FileRepository,
  filters: string[],
  flags: RunFlags,
  extra: { concurrency: number | undefined; loadList: string[] | undefined; signal: AbortSignal },
): Promise<RunOutcome | undefined> {
  const clock = systemClock;
  const plain = flags.subunit === true;
  const text = plain ? ctx.stderr : ctx.stdout;
  const collector = new FailureCollector();
  const junit = flags.junit === undefined ? undefined : new FailureCollector();
  const results: Array<{ id: string; status: string }> = [];
  let progress: ProgressLine | undefined;
  const say = (line: string): void => {
    progress?.clear();
    ctx.stderr.write(`subrun: ${line}\n`);
  };
  const request: RunRequest = {
    config,
    repo,
    cwd: ctx.cwd,
    env: ctx.env,
    filters,
    failing: flags.failing === true,
    partial: flags.partial === true,
    isolated: flags.isolated === true,
    analyzeIsolation: flags.analyzeIsolation === true,
    sshArgs: sshArgsFromEnv(ctx.env),
    signal: extra.signal,
    clock,
    ...(extra.concurrency === undefined ? {} : { concurrency: extra.concurrency }),
    ...(extra.loadList === undefined ? {} : { loadList: extra.loadList }),
    onNotice: say,
    // A test command's or server's stderr is the user's to see, as testr passes it through.
    onStderr: (chunk) => {
      progress?.clear();
      ctx.stderr.write(chunk);
    },
    onStart: (info) => {
      if (!plain && ctx.isTTY && info.tests !== null) {
        progress = new ProgressLine(ctx.stdout, { total: info.tests.length, expectedMs: info.expectedMs, concurrency: info.concurrency, clock });
        progress.draw();
      }
    },
    onPacket: (event, raw) => {
      if (plain) ctx.stdout.write(Buffer.from(raw));
      junit?.event(event);
      if (event.testId === undefined || event.status === undefined) {
        collector.event(event);
        return;
      }
      collector.event(event);
      if (event.status === 'success' || event.status === 'fail' || event.status === 'skip' || event.status === 'xfail' || event.status === 'uxsuccess') {
        results.push({ id: event.testId, status: event.status });
        if (!plain && (event.status === 'fail' || event.status === 'uxsuccess')) {
          const f = collector.failures().find((d) => d.testId === event.testId);
          progress?.clear();
          if (f !== undefined) text.write(formatFailure(f));
        }
        progress?.testFinished(event.testId, event.status);
      }
    },
  };
  let outcome: RunOutcome;
  try {
    outcome = await runTests(request);
  } catch (error) {
    progress?.clear();
    if (error instanceof SubrunError && error.code === 'ERR_NO_TESTS') {
      ctx.stderr.write(`subrun: ${error.message}\n`);
      ctx.fail((error.details as { reason?: string } | undefined)?.reason === 'no-failing' ? ExitCode.OK : ExitCode.FAILURES);
      return undefined;
    }
    throw error;
  }
  progress?.clear();
  const s = outcome.summary;
  if (!plain) text.write(formatTotals({ runId: s.id, tests: s.tests, counts: s.counts, durationMs: s.durationMs }));
  if (outcome.notRun.length > 0) say(`${outcome.notRun.length} test${outcome.notRun.length === 1 ? ' was' : 's were'} not run (${outcome.interrupted ? 'interrupted' : 'no test server left'})`);
  if (s.tests === 0 && !outcome.interrupted) say('no test ran: the selection or the test command produced no results');
  if (outcome.interrupted) say(`run ${s.id} was interrupted; its ${s.tests} results are kept (subrun last)`);
  if (outcome.isolation !== undefined) for (const f of outcome.isolation) ctx.stderr.write(describeFinding(f));
  if (junit !== undefined) await writeJunit(path.resolve(ctx.cwd, flags.junit!), results, junit);
  return outcome;
}

function describeFinding(f: IsolationFinding): string {
  switch (f.verdict) {
    case 'fails-alone':
      return `isolation: ${f.test} fails on its own, in a fresh server (${f.trials} trial)\n`;
    case 'not-reproduced':
      return `isolation: ${f.test} passed in fresh servers, alone and after what ran before it (${f.trials} trials): not an ordering problem, or flaky\n`;
    case 'culprit':
      return `isolation: ${f.test} fails when run after ${f.culprit} (found in ${f.trials} trials)\n`;
    case 'several':
      return `isolation: ${f.test} fails only after several of these together: ${f.candidates.join(', ')} (${f.trials} trials)\n`;
  }
}

async function configFor(ctx: CliContext, file: string | undefined): Promise<RunnerConfig> {
  return file === undefined ? loadConfig(ctx.cwd) : readConfigFile(path.resolve(ctx.cwd, file));
}

async function readIdList(file: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new SubrunError('ERR_USAGE', `--load-list: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { details: { file } });
  }
  return text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
}

function parseCount(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('--parallel', 'a positive integer', value);
  return n;
}

async function writeJunit(file: string, results: ReadonlyArray<{ id: string; status: string }>, failures: FailureCollector): Promise<void> {
  await writeFile(file, junitFromResults(results, failures.failures()));
}
