import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ServerConnection } from '../../src/rpc/server.js';
import { runSubrun } from '../helpers/cli.js';
import { ROOT } from '../helpers/paths.js';
import { toyHandler } from '../fixtures/toy-handler.js';
import { clauseIds } from './scenarios.js';

// Each kit run spawns 14 servers on a shared 2-core machine.
t.setTimeout(300_000);

const NODE = process.execPath;
const FIXTURE = path.join(ROOT, 'dist', 'test', 'fixtures', 'conformance-server.js');

interface Report {
  passed: boolean;
  counts: { pass: number; fail: number; skip: number };
  scenarios: Array<{ name: string; version?: number; clauses: Array<{ clause: string; status: string; spec: string }> }>;
}

t.test('a conforming child server (our ServerConnection + the toy handler) passes at version 2', async (t) => {
  const r = await runSubrun(['check', '--json', '--jobs', '4', '--time-scale', '3', '--', NODE, FIXTURE]);
  const report = JSON.parse(r.stdout) as Report;
  t.equal(r.code, 0, 'exit 0');
  if (r.code !== 0) t.comment(r.stderr);
  t.same(clauseIds(report, 'fail'), []);
  t.ok(report.counts.pass > 80, `${report.counts.pass} clauses passed`);
  t.equal(report.scenarios.find((s) => s.name === 'run')?.version, 2);
});

t.test('the same server pinned to version 1, with a banner before its Hello, passes at version 1', async (t) => {
  const r = await runSubrun(['check', '--jobs', '4', '--time-scale', '3', '--', NODE, FIXTURE, '--max=1', '--banner']);
  t.equal(r.code, 0, 'exit 0');
  if (r.code !== 0) t.comment(r.stdout);
  t.match(r.stdout, /PASS run \(version 1,/);
  t.match(r.stdout, /conformance: PASS: \d+ clauses passed, 0 failed/);
  t.notMatch(r.stdout, /FAIL/);
});

t.test('--url checks a server that is already listening (a fresh connection per scenario)', async (t) => {
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    new ServerConnection(socket, toyHandler());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  const port = (server.address() as AddressInfo).port;
  let connections = 0;
  server.on('connection', () => connections++);
  const r = await runSubrun(['check', '--url', `tcp://127.0.0.1:${port}`, '--jobs', '4', '--time-scale', '3']);
  t.equal(r.code, 0, 'exit 0');
  if (r.code !== 0) t.comment(r.stdout + r.stderr);
  t.equal(connections, 15, 'one connection per scenario');
});

t.test('a failing clause: exit 1, the SPEC section, what was seen and the last bytes in hex', async (t) => {
  const broken = path.join(ROOT, 'dist', 'test', 'fixtures', 'broken-server.js');
  const r = await runSubrun(['check', '--scenario', 'list', '--time-scale', '2', '--', NODE, broken, '--break=wrong-nonce']);
  t.equal(r.code, 1);
  t.match(r.stdout, /FAIL list \(version 2/);
  t.match(r.stdout, /FAIL §6\.4 list\/list-done: the List is answered with Done carrying its nonce/);
  t.match(r.stdout, /expected \{"message":\{"msg":"Done","nonce":"l1"\}\}: nothing matched within 10000 ms/);
  t.match(r.stdout, /seen:\n(.*\n)*.*message \{"msg":"Done","nonce":"l1-wrong"\}/);
  t.match(r.stdout, /last bytes received:\n\s+[0-9a-f]{2} [0-9a-f]{2} /);
  t.match(r.stdout, /skip|conformance: FAIL: \d+ clauses passed, 1 failed/);
});

t.test('usage errors exit 2', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'subrun-check-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'bad.json'), '{"name": "bad", "title": "t", "spec": "§5", "steps": [{"send": {"shout": 1}}]}');
  const cases: Array<[string[], RegExp]> = [
    [['check'], /give a server command after `--`, or --url/],
    [['check', '--url', 'tcp://127.0.0.1:9', '--', NODE], /either --url or a server command/],
    [['check', '--scenario', 'nope', '--', NODE], /unknown scenario "nope"; known: before-hello/],
    [['check', '--scenarios', dir, '--', NODE], /bad\.json: step 1: `send` needs exactly one of .*\[ERR_CONFORMANCE_SCENARIO\]/],
    [['check', '--scenarios', path.join(dir, 'missing'), '--', NODE], /cannot read the scenario directory/],
    [['check', '--jobs', '0', '--', NODE], /Expected `--jobs` to be a positive integer, got `0`/],
    [['check', '--time-scale', 'fast', '--', NODE], /Expected `--time-scale` to be a positive number, got `fast`/],
  ];
  for (const [args, re] of cases) {
    const r = await runSubrun(args);
    t.equal(r.code, 2, args.join(' '));
    t.match(r.stderr, re);
  }
});

t.test('a server that cannot be started or reached exits 3', async (t) => {
  const missing = await runSubrun(['check', '--', '/nonexistent/subrun-test-server']);
  t.equal(missing.code, 3);
  t.match(missing.stderr, /Could not start "\/nonexistent\/subrun-test-server": .*ENOENT \(ERR_TRANSPORT_SPAWN\) \[ERR_CONFORMANCE_START\]/);
  const refused = await runSubrun(['check', '--url', 'tcp://127.0.0.1:1', '--scenario', 'handshake']);
  t.equal(refused.code, 3);
  t.match(refused.stderr, /tcp:\/\/127\.0\.0\.1:1: .*ECONNREFUSED.*\[ERR_CONFORMANCE_START\]/);
});

t.test('--list names every scenario with its SPEC section; --help documents the exit codes', async (t) => {
  const r = await runSubrun(['check', '--list']);
  t.equal(r.code, 0);
  t.match(r.stdout, /^handshake\t§5\t/m);
  t.equal(r.stdout.trim().split('\n').length, 15);
  const help = await runSubrun(['check', '--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /0 every clause passed, 1 a clause failed, 2 usage/);
});
