import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError as CommanderInvalidArgument, Option } from 'commander';
import { SubrunError } from '../core/errors.js';
import { formatReport, parseScenario, runKit, type ConnectedPeer, type KitReport, type Scenario } from '../rpc/conformance/index.js';
import { dial, spawnTransport, type Transport } from '../transport/index.js';
import { ExitCode, type CliContext } from './context.js';

/** SPEC §8: a client that started the server sends SIGTERM, then SIGKILL 2 s later. */
const CLOSE_TIMEOUT_MS = 2000;

interface CheckOptions {
  url?: string;
  scenario?: string[];
  scenarios?: string;
  json?: boolean;
  list?: boolean;
  jobs: number;
  timeScale: number;
  protocolFd?: boolean;
  verbose?: boolean;
}

/** `subrun check`: the conformance kit (SPEC §11) against a server command or URL. */
export function registerCheckCommands(program: Command, ctx: CliContext): void {
  program
    .command('check')
    .summary('check that a test server speaks the protocol (the conformance kit)')
    .description(
      'Drive a test server through the conformance scenarios of SPEC §11 (protocol/conformance/*.json) ' +
        'and report every clause passed or failed, with its SPEC section and, for failures, what the ' +
        'server sent (a readable summary and the last bytes in hex). Each scenario gets a fresh ' +
        'server: a new process for a command, a new connection for --url. Clauses apply to the ' +
        'version the server negotiated, so a correct version-1-only server passes.',
    )
    .argument('[command...]', 'the server command and its arguments, after `--`')
    .option('--url <url>', 'connect to a running server instead: tcp://host:port, unix:/path, ws://host:port/path, ssh://...')
    .option('--scenario <name>', 'run only this scenario (repeatable)', collect)
    .option('--scenarios <dir>', 'load scenarios from this directory instead of the built-in protocol/conformance')
    .option('--json', 'print the report as JSON on stdout')
    .option('--list', 'list the scenarios and exit')
    .addOption(new Option('--jobs <n>', 'scenarios run at once, each against its own server').default(2).argParser(positiveInt('--jobs')))
    .addOption(new Option('--time-scale <factor>', 'multiply every deadline (slow machines, servers that start slowly)').default(1).argParser(positiveNumber('--time-scale')))
    .option('--protocol-fd', 'offer the spawned server the protocol on a dedicated descriptor (SPEC §9.5)')
    .option('-v, --verbose', 'also list the clauses that did not apply')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  subrun check -- node bin/subrun.js serve\n' +
        '  subrun check --scenario handshake --scenario run -- python3 my_server.py\n' +
        '  subrun check --url tcp://127.0.0.1:4000 --json\n' +
        '\nExit codes: 0 every clause passed, 1 a clause failed, 2 usage or a bad scenario file,\n' +
        '3 the server could not be started or reached.',
    )
    .action(async (command: string[], options: CheckOptions) => {
      ctx.exitCode = await check(command, options, ctx);
    });
}

async function check(command: string[], options: CheckOptions, ctx: CliContext): Promise<number> {
  let scenarios: Scenario[];
  try {
    scenarios = selectScenarios(loadScenarios(options.scenarios ?? builtInScenarioDir()), options.scenario ?? []);
  } catch (error) {
    return usage(ctx, error);
  }
  if (options.list === true) {
    for (const s of scenarios) ctx.stdout.write(`${s.name}\t${s.spec}\t${s.title}\n`);
    return ExitCode.OK;
  }
  if (options.url !== undefined && command.length > 0) return usage(ctx, 'give either --url or a server command, not both');
  if (options.url === undefined && command.length === 0) return usage(ctx, 'give a server command after `--`, or --url');
  const connect = options.url !== undefined ? dialer(options.url) : spawner(command, options, ctx);
  let report: KitReport;
  try {
    report = await runKit(scenarios, connect, { concurrency: options.jobs, timeScale: options.timeScale });
  } catch (error) {
    const e = error instanceof SubrunError ? error : new SubrunError('ERR_CONFORMANCE_START', String(error));
    ctx.stderr.write(`subrun check: ${e.message} [${e.code}]\n`);
    return ExitCode.ERROR;
  }
  ctx.stdout.write(options.json === true ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report, { verbose: options.verbose === true }));
  return report.passed ? ExitCode.OK : ExitCode.FAILURES;
}

function spawner(command: string[], options: CheckOptions, ctx: CliContext) {
  return async (): Promise<ConnectedPeer> => {
    const transport = await spawnTransport(command, {
      env: ctx.env,
      cwd: ctx.cwd,
      closeTimeoutMs: CLOSE_TIMEOUT_MS,
      ...(options.protocolFd === true ? { protocolFd: true } : {}),
    }).catch((error: unknown) => {
      throw startError(error);
    });
    return {
      stream: transport.stream,
      exit: transport.closed.then((c) => ({ exitCode: c.exitCode ?? null, signal: c.signal ?? null })),
      dispose: () => dispose(transport),
    };
  };
}

function dialer(url: string) {
  return async (): Promise<ConnectedPeer> => {
    const transport = await dial(url, { timeoutMs: 10_000, closeTimeoutMs: CLOSE_TIMEOUT_MS }).catch((error: unknown) => {
      throw startError(error);
    });
    return { stream: transport.stream, dispose: () => dispose(transport) };
  };
}

/** The transport already names the command or URL and the reason; keep its code in the message. */
function startError(error: unknown): SubrunError {
  const code = error instanceof SubrunError ? ` (${error.code})` : '';
  return new SubrunError('ERR_CONFORMANCE_START', `${(error as Error)?.message ?? String(error)}${code}`, { cause: error });
}

async function dispose(transport: Transport): Promise<{ stderrTail?: string }> {
  await transport.close();
  const closed = await transport.closed;
  return closed.stderrTail === undefined ? {} : { stderrTail: closed.stderrTail.slice(-2000) };
}

/** protocol/conformance/ of this package (found from this file, in src/ or dist/src/). */
function builtInScenarioDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'protocol', 'conformance'))) return path.join(dir, 'protocol', 'conformance');
    const up = path.dirname(dir);
    if (up === dir) throw new SubrunError('ERR_CONFORMANCE_SCENARIO', 'protocol/conformance/ not found next to the subrun package');
    dir = up;
  }
}

/** Every `*.json` scenario in `dir`, sorted by name. */
export function loadScenarios(dir: string): Scenario[] {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  } catch (error) {
    throw new SubrunError('ERR_CONFORMANCE_SCENARIO', `cannot read the scenario directory ${dir}: ${(error as Error).message}`, { cause: error });
  }
  if (files.length === 0) throw new SubrunError('ERR_CONFORMANCE_SCENARIO', `no *.json scenarios in ${dir}`);
  const names = new Set<string>();
  return files.map((f) => {
    const file = path.join(dir, f);
    let value: unknown;
    try {
      value = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new SubrunError('ERR_CONFORMANCE_SCENARIO', `${file}: not valid JSON: ${(error as Error).message}`, { cause: error });
    }
    const scenario = parseScenario(value, file);
    if (names.has(scenario.name)) throw new SubrunError('ERR_CONFORMANCE_SCENARIO', `${file}: scenario name ${scenario.name} is used twice`);
    names.add(scenario.name);
    return scenario;
  });
}

function selectScenarios(all: Scenario[], names: string[]): Scenario[] {
  if (names.length === 0) return all;
  const unknown = names.filter((n) => !all.some((s) => s.name === n));
  if (unknown.length > 0) {
    throw new SubrunError('ERR_USAGE', `unknown scenario ${unknown.map((n) => JSON.stringify(n)).join(', ')}; known: ${all.map((s) => s.name).join(', ')}`);
  }
  return all.filter((s) => names.includes(s.name));
}

function usage(ctx: CliContext, problem: unknown): number {
  const message = problem instanceof SubrunError ? `${problem.message} [${problem.code}]` : problem instanceof Error ? problem.message : String(problem);
  ctx.stderr.write(`subrun check: ${message}\n`);
  return ExitCode.USAGE;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function positiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new CommanderInvalidArgument(`Expected \`${name}\` to be a positive integer, got \`${value}\``);
    return n;
  };
}

function positiveNumber(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new CommanderInvalidArgument(`Expected \`${name}\` to be a positive number, got \`${value}\``);
    return n;
  };
}
