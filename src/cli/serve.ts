import type { EventEmitter } from 'node:events';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { Option, type Command } from 'commander';
import { glob } from 'tinyglobby';
import { parseDuration } from '../core/abort.js';
import { SubrunError } from '../core/errors.js';
import { createTestServer, type TestServer } from '../server/test-server.js';
import { PoolResources } from '../server/pool-resources.js';
import { DEFAULT_WORKER_YOUNG_GENERATION_MB, TestApiSuite } from '../server/test-api/test-api-suite.js';
import { CommandBridgeSuite } from '../server/command-bridge/command-bridge-suite.js';
import { readConfigFile } from '../runner/config/load-config.js';
import type { Suite } from '../server/suite.js';
import { listen, protocolFdFromEnv, stdioTransport } from '../transport/index.js';
import { ExitCode, type CliContext } from './context.js';
import { DEFAULT_SERVER_YOUNG_GENERATION_MB, runServerThread } from './serve-thread.js';
import { VERSION } from './version.js';

export interface ServeOptions {
  stdio?: boolean;
  listen?: string;
  root: string;
  timeout?: string;
  idleExit?: string;
  recycleAfter?: string;
  maxRss?: string;
  workerYoungGen?: string;
  serverYoungGen?: string;
  serverThread: boolean;
  nodeTest: boolean;
  command?: string;
  listOption?: string;
  idOption?: string;
  testrConf?: string | true;
  pool?: string;
  poolToken?: string;
}

const DEFAULT_PATTERNS = ['**/*.test.{js,mjs,cjs,ts,mts,cts}'];

/** `subrun serve`: a long-lived test server for subrun/test (and node:test) files. */
export function registerServeCommands(program: Command, ctx: CliContext): void {
  program
    .command('serve')
    .summary('run a long-lived test server for JavaScript/TypeScript test files')
    .description(
      'Serve test files over the subrun protocol (SPEC.md §4-§9). List answers without running any test body; ' +
        'Run executes the requested ids in a worker thread and captures their output. The worker is replaced when ' +
        'a file it loaded changes, when a test hangs in a busy loop or kills it, and optionally after N batches or ' +
        'above a memory threshold.\n\n' +
        'Lifecycle: Goodbye or EOF on the input ends the server (exit 0); SIGTERM lets the running test finish, then ' +
        'stops; --idle-exit ends it after a period without requests.\n\n' +
        `FILES are paths or globs relative to --root (default: ${DEFAULT_PATTERNS.join(' ')}, skipping node_modules). ` +
        'Test ids are `path/from/root > describe > name`.\n\n' +
        'Command bridge: with --command (or --testr-conf), the server wraps any command that emits subunit v2, ' +
        'such as a Python suite under `python3 -m subunit.run`, with testrepository\'s $LISTOPT, $IDOPTION, $IDFILE ' +
        'and $IDLIST variables; test ids are shell-quoted, never interpolated raw. This drives legacy suites in ' +
        'server mode, locally or over ssh.\n\n' +
        'Memory: the server runs in a server thread of this process with a small V8 young generation ' +
        '(--server-young-gen); the main thread only forwards signals and plain stdio. After each Run the server ' +
        'thread collects what relaying it left behind, and the test worker gets a small young generation too ' +
        '(--worker-young-gen). README "Memory of a long-lived test server".',
    )
    .argument('[files...]', 'test files or globs')
    .addOption(new Option('--stdio', 'speak the protocol on stdin/stdout (the default; the protocol fd when the client offers one)').conflicts('listen'))
    .option('--listen <url>', 'accept connections on tcp://host:port, unix:/path or ws://host:port/path')
    .option('--root <dir>', 'directory test ids are relative to', '.')
    .option('--timeout <duration>', 'per-test timeout for tests that set none (e.g. 30s)')
    .option('--idle-exit <duration>', 'exit after this long with no request running (e.g. 10m)')
    .option('--recycle-after <batches>', 'replace the worker after this many Runs')
    .option('--max-rss <megabytes>', 'replace the worker when the process RSS exceeds this')
    .option(
      '--worker-young-gen <megabytes>',
      `V8 young-generation size of the test worker (default ${DEFAULT_WORKER_YOUNG_GENERATION_MB}; V8's own is 48): ` +
        'larger means fewer scavenges for allocation-heavy tests, smaller keeps a long-lived server\'s RSS flatter',
    )
    .option(
      '--server-young-gen <megabytes>',
      `V8 young-generation size of the server thread (default ${DEFAULT_SERVER_YOUNG_GENERATION_MB}): ` +
        'the main thread\'s is fixed when node starts and grows to 48 MiB',
    )
    .option('--no-server-thread', 'serve from the main thread instead of a server thread (for a debugger, or to compare)')
    .option('--no-node-test', 'do not map `node:test` imports to subrun/test in the worker')
    .option('--command <cmd>', 'bridge mode: serve the tests of this subunit-emitting command (testr\'s test_command)')
    .option('--list-option <opt>', 'bridge mode: what $LISTOPT expands to (testr\'s test_list_option)', '--list')
    .option('--id-option <opt>', 'bridge mode: what $IDOPTION expands to (testr\'s test_id_option)', '--load-list $IDFILE')
    .option('--testr-conf [file]', 'bridge mode: take test_command, test_list_option and test_id_option from a .testr.conf')
    .option(
      '--pool <url>',
      'acquire what a Run declares in `resources` from this resource pool (ws://host:port/v1/ws or http://host:port) ' +
        'before its first test, and release it after the batch; tests see the grant as t.resources. One pool session per ' +
        'server process: if the server dies, the pool takes everything back. Also SUBRUN_POOL_URL',
    )
    .option('--pool-token <token>', 'bearer token for --pool (also SUBRUN_POOL_TOKEN)')
    .action(async (files: string[], options: ServeOptions) => {
      ctx.exitWhenDone = true;
      if (!options.serverThread) {
        ctx.exitCode = await serve(files, options, { env: ctx.env, cwd: ctx.cwd, stdout: ctx.stdout, signals: process });
        return;
      }
      const youngGenMb = options.serverYoungGen === undefined ? DEFAULT_SERVER_YOUNG_GENERATION_MB : positiveInt('--server-young-gen', options.serverYoungGen);
      ctx.exitCode = await runServerThread({ files, options, cwd: ctx.cwd }, ctx, {
        youngGenerationMb: youngGenMb,
        // Plain stdio is relayed by this thread; the protocol fd and sockets are the server thread's own.
        relayStdin: options.listen === undefined && protocolFdFromEnv(ctx.env) === undefined,
        signals: options.listen === undefined ? ['SIGTERM'] : ['SIGTERM', 'SIGINT'],
      });
    });
}

/** What the body of `serve` needs from its thread: the CLI's, or the server thread's. */
export interface ServeIo {
  env: Record<string, string | undefined>;
  cwd: string;
  /** Where --listen prints its URL. */
  stdout: Writable;
  /** SIGTERM and SIGINT: the process itself, or what the main thread forwards to the server thread. */
  signals: Pick<EventEmitter, 'once' | 'off'>;
}

/** The whole server: suite, protocol, transport; returns the exit code. */
export async function serve(files: string[], options: ServeOptions, io: ServeIo): Promise<number> {
  const poolUrl = options.pool ?? io.env.SUBRUN_POOL_URL;
  const poolToken = options.poolToken ?? io.env.SUBRUN_POOL_TOKEN;
  const resources = poolUrl === undefined || poolUrl === '' ? undefined : new PoolResources(poolWsUrl(poolUrl), { name: `subrun-serve@${process.pid}`, ...(poolToken === undefined || poolToken === '' ? {} : { token: poolToken }) });
  const suite = await createSuite(files, options, io);
  const server = createTestServer(suite, {
    connection: { agent: `subrun/${VERSION}` },
    ...(options.idleExit === undefined ? {} : { idleExitMs: parseDuration(options.idleExit) }),
    ...(resources === undefined ? {} : { resources }),
  });
  try {
    return await (options.listen === undefined ? serveStdio(server, io) : serveListening(server, options.listen, io));
  } finally {
    await resources?.close();
    await server.close();
  }
}

async function createSuite(patterns: string[], options: ServeOptions, io: ServeIo): Promise<Suite> {
  const root = path.resolve(io.cwd, options.root);
  if (options.command !== undefined || options.testrConf !== undefined) return createBridge(patterns, options, root, io);
  const files = await glob(patterns.length > 0 ? patterns : DEFAULT_PATTERNS, {
    cwd: root,
    absolute: true,
    ignore: ['**/node_modules/**'],
    expandDirectories: false,
  });
  // A plain path that does not exist is a mistake, not an empty glob.
  for (const p of patterns) {
    if (!/[*?[{]/.test(p) && !files.includes(path.resolve(root, p))) {
      throw new SubrunError('ERR_USAGE', `no such test file: ${p} (relative to ${root})`);
    }
  }
  if (files.length === 0) throw new SubrunError('ERR_USAGE', `no test files match ${patterns.join(' ') || DEFAULT_PATTERNS.join(' ')} under ${root}`);
  files.sort();
  return new TestApiSuite({
    root,
    files,
    nodeTestCompat: options.nodeTest,
    ...(options.timeout === undefined ? {} : { defaultTimeoutMs: parseDuration(options.timeout) }),
    ...(options.recycleAfter === undefined ? {} : { recycleAfterBatches: positiveInt('--recycle-after', options.recycleAfter) }),
    ...(options.maxRss === undefined ? {} : { maxRssBytes: positiveInt('--max-rss', options.maxRss) * 1024 * 1024 }),
    ...(options.workerYoungGen === undefined ? {} : { resourceLimits: { maxYoungGenerationSizeMb: positiveInt('--worker-young-gen', options.workerYoungGen) } }),
  });
}

async function createBridge(patterns: string[], options: ServeOptions, root: string, io: ServeIo): Promise<Suite> {
  if (patterns.length > 0) throw new SubrunError('ERR_USAGE', 'bridge mode (--command, --testr-conf) takes no test files');
  let template = { testCommand: options.command ?? '', listOption: options.listOption, idOption: options.idOption };
  if (options.testrConf !== undefined) {
    if (options.command !== undefined) throw new SubrunError('ERR_USAGE', '--command and --testr-conf are alternatives');
    const file = path.resolve(root, options.testrConf === true ? '.testr.conf' : options.testrConf);
    const config = await readConfigFile(file);
    if (config.testCommand === undefined) throw new SubrunError('ERR_CONFIG', `${file}: no test_command to bridge`);
    template = { testCommand: config.testCommand, listOption: config.testListOption, idOption: config.testIdOption };
  }
  return new CommandBridgeSuite({
    testCommand: template.testCommand,
    ...(template.listOption === undefined ? {} : { listOption: template.listOption }),
    ...(template.idOption === undefined ? {} : { idOption: template.idOption }),
    cwd: root,
    env: io.env,
    ...(options.timeout === undefined ? {} : { timeoutMs: parseDuration(options.timeout) }),
  });
}

/** The pool's WebSocket endpoint from what a user types: `ws://h:p/v1/ws`, or `http://h:p` (SPEC §12.1). */
export function poolWsUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new SubrunError('ERR_USAGE', `--pool expects a URL like ws://127.0.0.1:8000/v1/ws, got ${JSON.stringify(text)}`);
  }
  if (url.protocol === 'http:' || url.protocol === 'https:') url.protocol = url.protocol === 'http:' ? 'ws:' : 'wss:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new SubrunError('ERR_USAGE', `--pool expects a ws://, wss://, http:// or https:// URL, got ${JSON.stringify(text)}`);
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/v1/ws';
  return url.toString();
}

function positiveInt(flag: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new SubrunError('ERR_USAGE', `${flag} expects a positive integer, got ${JSON.stringify(text)}`);
  return n;
}

/** One client on this process's stdio; the server ends with it. */
async function serveStdio(server: TestServer, io: ServeIo): Promise<number> {
  const transport = stdioTransport({ env: io.env });
  const connection = server.serve(transport.stream);
  const onTerm = (): void => connection.shutdown();
  io.signals.once('SIGTERM', onTerm);
  try {
    const finish = await Promise.race([connection.finished, server.idle.then(() => ({ reason: 'idle' as const }))]);
    if (finish.reason === 'idle') connection.shutdown();
    if (finish.reason === 'error' || finish.reason === 'no-common-version') return ExitCode.FAILURES;
    return ExitCode.OK;
  } finally {
    io.signals.off('SIGTERM', onTerm);
    transport.destroy();
  }
}

/** Any number of clients on a listening URL, until SIGTERM/SIGINT or --idle-exit. */
async function serveListening(server: TestServer, url: string, io: ServeIo): Promise<number> {
  const listener = await listen(url, (transport) => {
    server.serve(transport.stream);
  });
  // The actual address (a port of 0 becomes real) is the one line a supervisor reads.
  io.stdout.write(`${listener.url}\n`);
  let onSignal!: () => void;
  const stop = new Promise<void>((resolve) => {
    onSignal = resolve;
    io.signals.once('SIGTERM', onSignal);
    io.signals.once('SIGINT', onSignal);
  });
  await Promise.race([stop, server.idle]);
  io.signals.off('SIGTERM', onSignal);
  io.signals.off('SIGINT', onSignal);
  await listener.close();
  await server.shutdown();
  return ExitCode.OK;
}
