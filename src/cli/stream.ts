import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Command, Option } from 'commander';
import split2 from 'split2';
import { InvalidArgumentError, SubrunError } from '../core/errors.js';
import { junitXml } from '../report/junit.js';
import { StreamStats } from '../report/stats.js';
import { durationSeconds, TestRecordCollector, type TestRecord } from '../report/test-records.js';
import { PacketEncoder } from '../subunit/encoder.js';
import { STATUSES, type SubunitEvent } from '../subunit/event.js';
import { packetToJson, parseJsonLine, toBase64 } from '../subunit/json-form.js';
import { ExitCode, type CliContext } from './context.js';
import { decodeInput, openInput, Output } from './stream-io.js';

const FILE_ARG = ['[file]', 'subunit v2 stream to read; stdin when absent or -'] as const;
const NO_PASSTHROUGH = ['--no-passthrough', 'hide bytes that are not subunit and attachments that belong to no test'] as const;

/*
 * Help texts are plain paragraphs: commander wraps them to the terminal (80
 * columns when not a terminal); a hard line break inside a paragraph would make
 * it wrap raggedly. A blank line ("\n\n") separates paragraphs.
 */

/** `subrun stream ...`: tools over subunit v2 streams (SPEC §2, §3). */
export function registerStreamCommands(program: Command, ctx: CliContext): void {
  const stream = program
    .command('stream')
    .summary('inspect, convert and filter subunit v2 streams')
    .description('Inspect, convert and filter subunit v2 streams (SPEC §2), e.g. the output of a test run.');
  /** How stats, ls and filter report a corrupt packet: on stderr, the stream going on. */
  const reportCorrupt = (error: { message: string; code: string }): void => void ctx.stderr.write(`subrun: ${error.message} [${error.code}]\n`);

  stream
    .command('decode')
    .argument(...FILE_ARG)
    .summary('print a subunit v2 stream as JSON lines')
    .description(
      'Print one JSON object per event of a subunit v2 stream, in the JSON event form of SPEC §3. ' +
        'A packet has the keys testId, status, tags, timestamp (ISO-8601 UTC), routeCode, runnable, mimeType, ' +
        'fileName, fileBytes (base64) and eof, each present when the packet has it, and raw (the packet in base64) ' +
        'when encoding the fields would not give back its bytes. ' +
        'Bytes that are not subunit are {"nonSubunit": true, "fileBytes": BASE64}; ' +
        'a corrupt packet is {"error": {"code", "message", "offset"}}, then its bytes as nonSubunit lines.' +
        '\n\n`stream encode` turns the lines back into the identical stream. ' +
        'Exits 1 when the stream held corrupt packets.',
    )
    .action(async (file: string | undefined) => {
      const out = new Output(ctx.stdout);
      const encoder = new PacketEncoder();
      let corrupt = 0;
      await decodeInput(
        ctx,
        file,
        {
          packet(event, raw) {
            const line = packetToJson(event);
            if (!reencodes(encoder, event, raw)) line.raw = toBase64(raw);
            out.write(JSON.stringify(line) + '\n');
          },
          nonSubunit(bytes) {
            out.write(JSON.stringify({ nonSubunit: true, fileBytes: toBase64(bytes) }) + '\n');
          },
          error(error, offset) {
            corrupt++;
            out.write(JSON.stringify({ error: { code: error.code, message: error.message, offset } }) + '\n');
          },
        },
        (idle) => out.flush(idle),
      );
      await out.flush(true);
      if (corrupt > 0) ctx.fail(ExitCode.FAILURES);
    });

  stream
    .command('encode')
    .argument('[file]', 'JSON lines in the form `stream decode` prints (SPEC §3); stdin when absent or -')
    .summary('write the subunit v2 stream that JSON lines describe')
    .description(
      'Write the subunit v2 stream described by JSON lines (SPEC §3). ' +
        'Packet lines are encoded exactly as python-subunit would (runnable defaults to true), or as their raw bytes ' +
        'when they have raw; nonSubunit lines are written as their bytes; error lines are skipped.' +
        '\n\nA bad line stops with its line number and an ERR_SUBUNIT_* code (exit 2): ' +
        'not JSON, a key its kind of line does not have, a badly typed value, a timestamp that is not a real ' +
        'date-time (month 01-12, a day the month has, 00:00:00-23:59:59, zone -23:59 to +23:59) or lies outside ' +
        '1970-01-01T00:00:00Z..2106-02-07T06:28:15.999999999Z, or an event the encoder refuses.',
    )
    .action(async (file: string | undefined) => {
      const out = new Output(ctx.stdout);
      const encoder = new PacketEncoder();
      let lineNo = 0;
      try {
        const lines = openInput(ctx, file).pipe(split2());
        for await (const line of lines as AsyncIterable<string>) {
          lineNo++;
          if (line.trim() === '') continue;
          const parsed = parseJsonLine(parseJson(line));
          if (parsed.kind === 'event') out.write(encoder.encode(parsed.event));
          else if (parsed.kind === 'bytes') out.write(parsed.bytes);
          // Out now when no more lines are waiting: a live pipe's packets are not held back.
          await out.flush(lines.readableLength === 0);
        }
      } catch (error) {
        await out.flush(true);
        if (error instanceof SubrunError && error.code.startsWith('ERR_SUBUNIT_')) {
          ctx.stderr.write(`subrun: ${file ?? 'stdin'}: line ${lineNo}: ${error.message} [${error.code}]\n`);
          ctx.fail(ExitCode.USAGE);
          return;
        }
        throw error;
      }
      await out.flush(true);
    });

  stream
    .command('stats')
    .argument(...FILE_ARG)
    .option(...NO_PASSTHROUGH)
    .summary("print the counts python-subunit's subunit-stats prints")
    .description(
      "Print the counts python-subunit's subunit-stats prints, computed the same way (SPEC §3.5): " +
        'total, passed, failed and skipped tests, and the tags seen. ' +
        'A test that never finished counts as failed; a corrupt packet counts as one failed test and is reported on stderr. ' +
        'Bytes that are not subunit and attachments of no test are written first, unless --no-passthrough. ' +
        'Exits 1 when any test failed.',
    )
    .action(async (file: string | undefined, opts: { passthrough: boolean }) => {
      const out = new Output(ctx.stdout);
      const stats = new StreamStats();
      await decodeInput(
        ctx,
        file,
        {
          packet(event) {
            if (event.testId === undefined && opts.passthrough && event.fileBytes !== undefined) out.write(event.fileBytes.slice());
            stats.event(event);
          },
          nonSubunit(bytes) {
            if (opts.passthrough) out.write(bytes);
          },
          error(error) {
            stats.corruptPacket();
            reportCorrupt(error);
          },
        },
        (idle) => out.flush(idle),
      );
      stats.end();
      out.write(stats.format());
      await out.flush(true);
      if (stats.failed > 0) ctx.fail(ExitCode.FAILURES);
    });

  stream
    .command('ls')
    .argument(...FILE_ARG)
    .option('--status', 'print each test’s status after its id')
    .option('--times', 'print the seconds each test took (from its first to its last timestamp; - when unknown)')
    .option('--exists', 'also list tests reported as existing (not run), as `subrun list` output has')
    .option(...NO_PASSTHROUGH)
    .summary('list the test ids of a subunit v2 stream')
    .description(
      'List the test ids of a subunit v2 stream, one per line, in the order the tests finished (SPEC §3.7); ' +
        'a test the stream ended before it finished comes last, with the status incomplete. ' +
        'Bytes that are not subunit and attachments of no test pass through as they come, unless --no-passthrough. ' +
        'A corrupt packet is reported on stderr; the exit code stays 0.',
    )
    .action(async (file: string | undefined, opts: { status?: boolean; times?: boolean; exists?: boolean; passthrough: boolean }) => {
      const out = new Output(ctx.stdout);
      const records = new TestRecordCollector((r) => {
        let line = r.id;
        if (opts.status) line += ` ${r.incomplete ? 'incomplete' : r.status}`;
        if (opts.times) {
          const d = durationSeconds(r);
          line += d === undefined ? ' -' : ` ${d.toFixed(3)}`;
        }
        out.write(line + '\n');
      });
      await decodeInput(
        ctx,
        file,
        {
          packet(event) {
            // Output of no test passes through whatever its status (SPEC §3.7): only a test's own `exists` is hidden.
            if (event.testId === undefined) {
              if (opts.passthrough && event.fileBytes !== undefined) out.write(event.fileBytes.slice());
              return;
            }
            if (event.status === 'exists' && !opts.exists) return;
            records.event(event);
          },
          nonSubunit(bytes) {
            if (opts.passthrough) out.write(bytes);
          },
          error: reportCorrupt,
        },
        (idle) => out.flush(idle),
      );
      records.end();
      await out.flush(true);
    });

  stream
    .command('junit')
    .argument(...FILE_ARG)
    .option('-o, --output <path>', 'write the XML to this file instead of stdout')
    .option('--suite-name <name>', 'the name of the test suite', 'subrun')
    .summary('convert a subunit v2 stream to JUnit XML')
    .description(
      'Convert a subunit v2 stream to JUnit XML for Jenkins, GitLab and the like (SPEC §3.6): ' +
        'fail and uxsuccess are failures, unfinished tests errors, skips skipped; ' +
        'attachments named traceback or reason become the failure text, others <system-out>. ' +
        'A corrupt packet becomes a failed test "subunit.parser"; exists events (test listings) are ignored. ' +
        'Exits 1 when any test failed.',
    )
    .action(async (file: string | undefined, opts: { output?: string; suiteName: string }) => {
      const all: TestRecord[] = [];
      const records = new TestRecordCollector((r) => all.push(r));
      await decodeInput(ctx, file, {
        packet(event) {
          if (event.status !== 'exists') records.event(event);
        },
        nonSubunit() {},
        error(error) {
          all.push(parserRecord(error.message));
        },
      });
      records.end();
      const xml = junitXml(all, { suiteName: opts.suiteName });
      if (opts.output === undefined) {
        const out = new Output(ctx.stdout);
        out.write(xml);
        await out.flush(true);
      } else {
        const target = path.resolve(ctx.cwd, opts.output);
        await writeFile(target, xml).catch((error: unknown) => {
          throw new SubrunError('ERR_IO', `cannot write ${opts.output}: ${error instanceof Error ? error.message : String(error)}`);
        });
      }
      if (all.some((r) => r.incomplete || ['fail', 'uxsuccess', 'inprogress', 'unknown'].includes(r.status))) ctx.fail(ExitCode.FAILURES);
    });

  stream
    .command('filter')
    .argument(...FILE_ARG)
    .addOption(
      new Option(
        '-s, --status <statuses>',
        `keep tests whose final status is one of these (comma-separated: ${FINAL_STATUSES.join(', ')}, or incomplete for a test the stream ended before it finished; inprogress means incomplete)`,
      ).argParser(parseStatuses),
    )
    .option('--id <regex>', 'keep tests whose id matches this JavaScript regular expression')
    .option('--exclude-id <regex>', 'drop tests whose id matches this regular expression')
    .option('--tag <tag>', 'keep tests that carry this tag (repeatable: any of them)', collect)
    .option('--exclude-tag <tag>', 'drop tests that carry this tag (repeatable)', collect)
    .option('--no-passthrough', 'hide bytes that are not subunit and packets that belong to no test')
    .summary('keep the tests of a subunit v2 stream that pass filters')
    .description(
      'Write the packets of the tests that pass every given filter as a subunit v2 stream, byte for byte (SPEC §3.7). ' +
        "A test's packets are held until it finishes (its final status and last tags decide), then written together; " +
        'tests the stream ended before they finished go out at the end. ' +
        'Bytes that are not subunit and packets of no test pass through as they come, unless --no-passthrough. ' +
        'A corrupt packet is reported on stderr, as ls does, and its bytes pass through with the rest; ' +
        'the exit code stays 0.',
    )
    .action(
      async (
        file: string | undefined,
        opts: { status?: Set<string>; id?: string; excludeId?: string; tag?: string[]; excludeTag?: string[]; passthrough: boolean },
      ) => {
        const tags = opts.tag ?? [];
        const excludeTags = opts.excludeTag ?? [];
        const include = opts.id === undefined ? undefined : regex('--id', opts.id);
        const exclude = opts.excludeId === undefined ? undefined : regex('--exclude-id', opts.excludeId);
        const keep = (r: TestRecord): boolean =>
          (opts.status === undefined || opts.status.has(r.incomplete ? 'incomplete' : r.status)) &&
          (include === undefined || include.test(r.id)) &&
          (exclude === undefined || !exclude.test(r.id)) &&
          (tags.length === 0 || r.tags.some((t) => tags.includes(t))) &&
          !r.tags.some((t) => excludeTags.includes(t));
        const out = new Output(ctx.stdout);
        const records = new TestRecordCollector(
          (r) => {
            if (keep(r)) for (const p of r.packets) out.write(p);
          },
          { keepPackets: true },
        );
        await decodeInput(
          ctx,
          file,
          {
            packet(event, raw) {
              if (!records.event(event, raw) && opts.passthrough) out.write(raw.slice());
            },
            nonSubunit(bytes) {
              if (opts.passthrough) out.write(bytes);
            },
            error: reportCorrupt,
          },
          (idle) => out.flush(idle),
        );
        records.end();
        await out.flush(true);
      },
    );
}

/** Whether re-encoding a decoded event reproduces its packet (SPEC §3.3: otherwise `raw` keeps it). */
function reencodes(encoder: PacketEncoder, event: SubunitEvent, raw: Uint8Array): boolean {
  let again: Uint8Array;
  try {
    again = encoder.encode(event);
  } catch {
    return false;
  }
  if (again.length !== raw.length) return false;
  for (let i = 0; i < raw.length; i++) if (again[i] !== raw[i]) return false;
  return true;
}

function parseJson(line: string): unknown {
  try {
    return JSON.parse(line) as unknown;
  } catch (error) {
    throw new SubrunError('ERR_SUBUNIT_JSON', `not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function parserRecord(message: string): TestRecord {
  return {
    id: 'subunit.parser',
    routeCode: undefined,
    status: 'fail',
    tags: [],
    start: undefined,
    end: undefined,
    attachments: new Map([['traceback', { mimeType: 'text/plain', chunks: [new TextEncoder().encode(message)] }]]),
    packets: [],
    incomplete: false,
  };
}

/** Statuses that finish a test (SPEC §3.5): what a finished test's record can hold. */
const FINAL_STATUSES = STATUSES.filter((s) => s !== 'undefined' && s !== 'inprogress');

/**
 * `--status` values. A test is never finished as `inprogress` (that status leaves it
 * open), so a user asking for it means the tests still in progress when the stream
 * ended: `incomplete` (SPEC §3.7).
 */
function parseStatuses(value: string, previous: Set<string> | undefined): Set<string> {
  const allowed = new Set<string>([...FINAL_STATUSES, 'incomplete']);
  const set = new Set(previous);
  for (const s of value.split(',').map((x) => x.trim()).filter(Boolean)) {
    const status = s === 'inprogress' ? 'incomplete' : s;
    if (!allowed.has(status)) throw new InvalidArgumentError('--status', `a comma-separated list of ${[...allowed].join(', ')} (inprogress means incomplete)`, s);
    set.add(status);
  }
  return set;
}

/** Repeatable options start undefined, not [], so help shows no "(default: [])". */
function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function regex(option: string, source: string): RegExp {
  try {
    return new RegExp(source);
  } catch {
    throw new InvalidArgumentError(option, 'a valid regular expression', source);
  }
}
