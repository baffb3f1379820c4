import { createReadStream, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import { InvalidArgumentError, SubrunError } from '../core/errors.js';
import { FileRepository } from '../repository/file-repository.js';
import type { Repository, RunSummary } from '../repository/types.js';
import { FailureCollector, SummaryPrinter, type FailureDetail } from '../report/summary.js';
import { StreamDecoder } from '../subunit/decoder.js';
import type { SubunitEvent } from '../subunit/event.js';
import { ExitCode, type CliContext } from './context.js';

/**
 * The read side of the history (SPEC §13) and `load`: last, failing, slowest,
 * stats, history, load. testr's commands, with its output and exit codes.
 */
export function registerHistoryCommands(program: Command, ctx: CliContext): void {
  const repoOption = () =>
    new Option('--repo <dir>', 'the history repository (default: .subrun in the current directory)');

  program
    .command("last")
    .summary("the latest run's failures and totals (--subunit: its stream)")
    .description('Show the results of the latest run: its failures with their output, then the totals.\nExit 1 if the run had failures (with --subunit: 0 once the stream is written).')
    .option('--subunit', 'write the run\'s subunit v2 stream to stdout instead (no RPC packets; readable by subunit2pyunit, testr load)')
    .addOption(repoOption())
    .action(async (opts: { subunit?: boolean; repo?: string }) => {
      await withRepo(ctx, opts.repo, false, async (repo) => {
        const run = latestOrFail(repo);
        if (opts.subunit === true) {
          for await (const chunk of repo.openStream(run.id)) await writeOut(ctx, chunk);
          return;
        }
        const collector = new FailureCollector();
        await decodeStream(repo.openStream(run.id), (e) => collector.event(e));
        printSummary(ctx, collector.failures(), run);
        if (run.failures > 0) ctx.fail(ExitCode.FAILURES);
      });
    });

  program
    .command('failing')
    .summary('the tests failing now (--list, --subunit)')
    .description('Show the tests that are failing now (a test leaves the set only when it passes again).\nExit 1 if any test is failing (with --subunit: 0).')
    .option('--list', 'print only the failing test ids, one a line')
    .option('--subunit', 'write the failing tests\' packets from their runs as a subunit v2 stream')
    .addOption(repoOption())
    .action(async (opts: { list?: boolean; subunit?: boolean; repo?: string }) => {
      await withRepo(ctx, opts.repo, false, async (repo) => {
        const failing = repo.failing();
        const byRun = new Map<number, Set<string>>();
        for (const f of failing) {
          let ids = byRun.get(f.runId);
          if (ids === undefined) byRun.set(f.runId, (ids = new Set()));
          ids.add(f.testId);
        }
        if (opts.subunit === true) {
          for (const [runId, ids] of [...byRun].sort((a, b) => a[0] - b[0])) {
            const kept: Uint8Array[] = [];
            await decodeStream(repo.openStream(runId), (e, raw) => {
              if (e.testId !== undefined && ids.has(e.testId)) kept.push(raw.slice());
            });
            for (const raw of kept) await writeOut(ctx, raw);
          }
          return;
        }
        if (failing.length > 0) ctx.fail(ExitCode.FAILURES);
        if (opts.list === true) {
          for (const f of failing) ctx.stdout.write(`${f.testId}\n`);
          return;
        }
        const details: FailureDetail[] = [];
        for (const [runId, ids] of [...byRun].sort((a, b) => a[0] - b[0])) {
          const collector = new FailureCollector({ only: ids });
          await decodeStream(repo.openStream(runId), (e) => collector.event(e));
          details.push(...collector.failures());
        }
        const printer = new SummaryPrinter(ctx.stdout);
        printer.failures(details);
        const fail = failing.filter((f) => f.status === 'fail').length;
        const latest = repo.latestRun();
        printer.totals({
          ...(latest === undefined ? {} : { runId: latest.id }),
          tests: failing.length,
          counts: { success: 0, fail, skip: 0, xfail: 0, uxsuccess: failing.length - fail },
          durationMs: null,
        });
      });
    });

  program
    .command("slowest")
    .summary("the latest run's slowest tests")
    .description('Show the slowest tests of the latest run, slowest first (testr\'s table).')
    .option('-n, --count <n>', 'how many tests to show (default 10)', parseCount)
    .option('--all', 'show every test with a recorded time')
    .addOption(repoOption())
    .action(async (opts: { count?: number; all?: boolean; repo?: string }) => {
      await withRepo(ctx, opts.repo, false, async (repo) => {
        latestOrFail(repo);
        const rows = repo.slowest(opts.all === true ? Number.MAX_SAFE_INTEGER : (opts.count ?? 10));
        if (rows.length === 0) return;
        const precision = 3;
        const longest = rows[0]!.durationMs! / 1000;
        const width = (longest >= 1 ? Math.floor(Math.log10(longest)) + 1 : 1) + precision + 1;
        const cells = rows.map((r) => [r.testId, (r.durationMs! / 1000).toFixed(precision).padStart(width)] as const);
        printTable(ctx, ['Test id', 'Runtime (s)'], cells);
      });
    });

  program
    .command('stats')
    .summary('figures about the history')
    .description('Show figures about the repository, one `name=value` a line.')
    .addOption(repoOption())
    .action(async (opts: { repo?: string }) => {
      await withRepo(ctx, opts.repo, false, async (repo) => {
        const s = repo.stats();
        ctx.stdout.write(
          `runs=${s.runs}\nlatest=${s.latestRunId ?? ''}\nfailing=${s.failing}\ntimed_tests=${s.timedTests}\nstream_bytes=${s.bytes}\n`,
        );
      });
    });

  program
    .command('history')
    .summary('the latest runs, newest first')
    .description('List the latest runs, newest first: id, state, start, tests, failures, skips, time, source.')
    .option('-n, --count <n>', 'how many runs to show (default 10)', parseCount)
    .addOption(repoOption())
    .action(async (opts: { count?: number; repo?: string }) => {
      await withRepo(ctx, opts.repo, false, async (repo) => {
        const runs = repo.history(opts.count ?? 10);
        if (runs.length === 0) return;
        printTable(
          ctx,
          ['Id', 'State', 'Started (UTC)', 'Tests', 'Failures', 'Skips', 'Time (s)', 'Source'],
          runs.map((r) => [
            String(r.id),
            r.partial ? `${r.state} (partial)` : r.state,
            new Date(r.startedAt).toISOString().replace('T', ' ').slice(0, 19),
            String(r.tests),
            String(r.failures),
            String(r.counts.skip),
            r.durationMs === null ? '-' : (r.durationMs / 1000).toFixed(3),
            r.source ?? '',
          ]),
        );
      });
    });

  program
    .command('load')
    .summary('load subunit v2 streams into the history as one run')
    .description(
      'Load subunit v2 streams (from any producer) into the history as one run, then show its summary.\n' +
        'Reads stdin when no FILE (or `-`) is given. RPC packets are dropped; stray bytes are kept as output.\n' +
        'Creates the repository if needed. Exit 1 if the loaded run had failures.',
    )
    .argument('[files...]', 'subunit v2 stream files; `-` for stdin')
    .option('--partial', 'only update the failing set for the tests in these streams (testr load --partial)')
    .option('--subunit', 'write the stored stream to stdout instead of the summary')
    .addOption(repoOption())
    .action(async (files: string[], opts: { partial?: boolean; subunit?: boolean; repo?: string }) => {
      const sources = files.length === 0 ? ['-'] : files;
      const resolve = (f: string) => path.resolve(ctx.cwd, f);
      for (const f of sources) {
        if (f !== '-' && (!existsSync(resolve(f)) || !statSync(resolve(f)).isFile())) {
          throw new SubrunError('ERR_USAGE', `cannot load ${JSON.stringify(f)}: no such file`, { details: { file: f } });
        }
      }
      await withRepo(ctx, opts.repo, true, async (repo) => {
        const writer = repo.beginRun({ partial: opts.partial === true, source: `load ${sources.join(' ')}` });
        const collector = new FailureCollector();
        let summary: RunSummary;
        try {
          for (const f of sources) {
            const input = f === '-' ? ctx.stdin : createReadStream(resolve(f));
            const decoder = new StreamDecoder({
              packet: (e, raw) => {
                writer.packet(e, raw);
                collector.event(e);
              },
              nonSubunit: (bytes) => writer.nonSubunit(bytes),
              error: () => {},
            });
            for await (const chunk of input) decoder.push(chunk as Uint8Array);
            decoder.end();
          }
          summary = await writer.finish();
        } catch (error) {
          await writer.abort(`loading failed: ${String((error as Error)?.message ?? error)}`);
          throw error;
        }
        if (opts.subunit === true) {
          for await (const chunk of repo.openStream(summary.id)) await writeOut(ctx, chunk);
        } else {
          // The closing packets for tests left in progress are in the stored stream; collect them too.
          const all = new FailureCollector();
          await decodeStream(repo.openStream(summary.id), (e) => all.event(e));
          printSummary(ctx, all.failures(), summary);
        }
        if (summary.failures > 0) ctx.fail(ExitCode.FAILURES);
      });
    });
}

async function withRepo(ctx: CliContext, dir: string | undefined, create: boolean, body: (repo: Repository) => Promise<void>): Promise<void> {
  const location = path.resolve(ctx.cwd, dir ?? '.subrun');
  const repo = FileRepository.open(location, { create });
  try {
    for (const id of repo.openReport.recovered) {
      ctx.stderr.write(`subrun: recovered run ${id}: its writer stopped before finishing; tests left in progress are failed\n`);
    }
    if (repo.openReport.rebuiltFrom !== undefined) {
      ctx.stderr.write(`subrun: the history index was damaged; rebuilt it from the streams (old index kept at ${repo.openReport.rebuiltFrom})\n`);
    }
    await body(repo);
  } finally {
    repo.close();
  }
}

function latestOrFail(repo: Repository): RunSummary {
  const run = repo.latestRun();
  if (run === undefined) throw new SubrunError('ERR_REPO_NO_RUN', `no runs in the repository at ${repo.location}`);
  return run;
}

function printSummary(ctx: CliContext, failures: FailureDetail[], run: RunSummary): void {
  const printer = new SummaryPrinter(ctx.stdout);
  printer.failures(failures);
  printer.totals({ runId: run.id, tests: run.tests, counts: run.counts, durationMs: run.durationMs });
}

async function decodeStream(stream: AsyncIterable<Uint8Array>, onPacket: (e: SubunitEvent, raw: Uint8Array) => void): Promise<void> {
  const decoder = new StreamDecoder({ packet: onPacket, nonSubunit: () => {}, error: () => {} });
  for await (const chunk of stream) decoder.push(chunk);
  decoder.end();
}

async function writeOut(ctx: CliContext, bytes: Uint8Array): Promise<void> {
  if (!ctx.stdout.write(bytes)) await new Promise<void>((resolve) => ctx.stdout.once('drain', resolve));
}

function printTable(ctx: CliContext, header: readonly string[], rows: ReadonlyArray<readonly string[]>): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd() + '\n';
  ctx.stdout.write(line(header));
  ctx.stdout.write(line(widths.map((w) => '-'.repeat(w))));
  for (const r of rows) ctx.stdout.write(line(r));
}

function parseCount(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('--count', 'a positive integer', value);
  return n;
}
