import t from 'tap';
import { Duplex } from 'node:stream';
import { ManualClock } from '../../src/core/clock.js';
import { isSubrunError } from '../../src/core/errors.js';
import { ServerConnection, type ServerOptions } from '../../src/rpc/server.js';
import { encodeSend, formatReport, matches, parseScenario, runKit, runScenario, type Scenario } from '../../src/rpc/conformance/index.js';
import { duplexPair } from '../helpers/duplex-pair.js';
import { toyHandler } from '../fixtures/toy-handler.js';
import { builtInScenarios, clauseIds } from './scenarios.js';

const scenarios = builtInScenarios();

/** A fresh in-process ServerConnection per scenario, over an in-memory pair (no exit status: `exit` means close). */
function inProcess(options: ServerOptions = {}) {
  return async () => {
    const [kit, server] = duplexPair();
    const connection = new ServerConnection(server, toyHandler(), options);
    return {
      stream: kit,
      async dispose() {
        connection.destroy();
        kit.destroy();
        return {};
      },
    };
  };
}

t.test('every built-in scenario is valid and the set covers the required topics', async (t) => {
  const names = scenarios.map((s) => s.name);
  for (const n of ['handshake', 'version-v1-only', 'version-wide', 'no-common-version', 'list', 'run', 'concurrent', 'before-hello', 'unknown-message', 'unknown-test', 'heartbeat', 'goodbye', 'eof', 'garbage', 'split-message']) {
    t.ok(names.includes(n), `scenario ${n}`);
  }
  for (const s of scenarios) for (const step of s.steps) if ('clause' in step) t.match(step.spec, /^§\d+(\.\d+)?$/, `${s.name}/${step.clause} cites a SPEC section`);
});

t.test('the kit passes an in-process ServerConnection speaking version 2', async (t) => {
  const report = await runKit(scenarios, inProcess(), { concurrency: 4 });
  t.same(clauseIds(report, 'fail'), [], 'no clause fails');
  if (!report.passed) t.comment(formatReport(report));
  t.ok(report.scenarios.filter((s) => !['no-common-version', 'version-v1-only'].includes(s.name)).every((s) => s.version === 2), 'version 2 was negotiated');
  t.ok(clauseIds(report, 'pass').includes('heartbeat/pong'), 'version 2 clauses were exercised');
  t.ok(clauseIds(report, 'skip').includes('unknown-message/v1-ignored'), 'version 1 clauses did not apply');
});

t.test('the kit passes an in-process ServerConnection pinned to version 1', async (t) => {
  const report = await runKit(scenarios, inProcess({ max: 1 }), { concurrency: 4 });
  t.same(clauseIds(report, 'fail'), [], 'no clause fails');
  if (!report.passed) t.comment(formatReport(report));
  t.ok(report.scenarios.filter((s) => s.name !== 'no-common-version').every((s) => s.version === 1), 'version 1 was negotiated');
  t.ok(clauseIds(report, 'pass').includes('unknown-test/v1-fail-reported'), 'version 1 clauses were exercised');
  t.ok(clauseIds(report, 'skip').includes('heartbeat/pong'), 'version 2 clauses did not apply');
});

t.test('Heartbeats and stray output between every write of the server are skipped by expectations', async (t) => {
  const heartbeat = encodeSend({ message: { msg: 'Heartbeat', running: [] } });
  const stray = new TextEncoder().encode('stray output\n');
  const noisy = async () => {
    const [kit, middle] = duplexPair();
    const [inner, server] = duplexPair();
    const connection = new ServerConnection(server, toyHandler());
    // Before each chunk the server writes: an unsolicited Heartbeat and a line of stray output.
    inner.on('data', (chunk: Uint8Array) => {
      middle.write(heartbeat);
      middle.write(stray);
      middle.write(chunk);
    });
    inner.on('end', () => middle.end());
    middle.on('data', (chunk: Uint8Array) => inner.write(chunk));
    middle.on('end', () => inner.end());
    return {
      stream: kit,
      async dispose() {
        connection.destroy();
        kit.destroy();
        return {};
      },
    };
  };
  // These say "no other message" (before Hello, after Goodbye, under version 1), which the noise breaks on purpose.
  const chosen = scenarios.filter((s) => !['handshake', 'goodbye', 'heartbeat', 'no-common-version', 'version-v1-only'].includes(s.name));
  const report = await runKit(chosen, noisy, { concurrency: 4 });
  t.same(clauseIds(report, 'fail'), [], 'no clause fails');
  if (!report.passed) t.comment(formatReport(report));
  t.ok(report.counts.pass > 50);
});

t.test('a silent server fails the handshake clause when the deadline passes, without sleeping', async (t) => {
  const clock = new ManualClock();
  const silent = new Duplex({ read() {}, write(_c, _e, cb) { cb(); } });
  const handshake = scenarios.find((s) => s.name === 'handshake')!;
  const pending = runScenario(handshake, { stream: silent }, { clock });
  await new Promise((r) => setImmediate(r));
  clock.advance(9999);
  await new Promise((r) => setImmediate(r));
  clock.advance(1);
  const result = await pending;
  t.equal(result.passed, false);
  t.same(result.clauses.map((c) => `${c.clause}:${c.status}`), [
    'hello-answered:fail',
    'hello-range:skip',
    'common-version:skip',
    'nothing-before-hello:skip',
    'no-results-before-hello:skip',
    'hello-once:skip',
  ]);
  t.match(result.clauses[0]!.reason, /nothing matched within 10000 ms/);
  t.match(result.clauses[0]!.seen, ['(nothing received from the server)']);
});

t.test('hostile server bytes become clause failures with what was seen, never exceptions', async (t) => {
  const scenario = parseScenario(
    {
      name: 'hostile',
      title: 'garbage from the server',
      spec: '§4.7',
      steps: [
        { send: { message: { msg: 'Hello', min: 1, max: 2 } } },
        { expect: { message: { msg: 'Hello' } }, within: 2000, clause: 'hello', spec: '§5.3', title: 'Hello' },
      ],
    },
    'inline',
  );
  const peer = new Duplex({ read() {}, write(_c, _e, cb) { cb(); } });
  const pending = runScenario(scenario, { stream: peer });
  // A banner, a corrupt packet, an RPC packet with bad JSON, a truncated packet, then the end.
  peer.push(Buffer.from('banner line\n'));
  peer.push(Buffer.from('b32901' + '00'.repeat(8), 'hex'));
  const bad = Buffer.from('b3', 'hex');
  peer.push(bad);
  peer.push(null);
  const result = await pending;
  t.equal(result.passed, false);
  t.equal(result.clauses[0]!.status, 'fail');
  t.match(result.clauses[0]!.reason, /closed the channel/);
  t.match(result.clauses[0]!.seen!.join('\n'), /output .*banner line/);
  t.match(result.clauses[0]!.lastBytesHex, /62 61 6e 6e 65 72/);
});

t.test('the matcher: subset objects, operators, absent members', async (t) => {
  t.ok(matches({ msg: 'Done' }, { msg: 'Done', nonce: 'x' }));
  t.notOk(matches({ msg: 'Done', nonce: 'y' }, { msg: 'Done', nonce: 'x' }));
  t.ok(matches({ status: { $in: ['success', 'fail'] } }, { status: 'fail' }));
  t.ok(matches({ routeCode: { $not: 'r1' } }, {}), '$not matches an absent member');
  t.notOk(matches({ routeCode: { $not: 'r1' } }, { routeCode: 'r1' }));
  t.ok(matches({ timestamp: { $exists: false } }, {}));
  t.notOk(matches({ timestamp: { $exists: false } }, { timestamp: {} }));
  t.ok(matches({ details: { tests: { $contains: 'x' } } }, { details: { tests: ['a', 'x'] } }));
  t.ok(matches({ n: { $type: 'integer' } }, { n: 3 }));
  t.ok(matches({ n: { $type: 'number' } }, { n: 3 }));
  t.notOk(matches({ n: { $type: 'string' } }, { n: 3 }));
  t.notOk(matches({ a: [1, 2] }, { a: [1, 2, 3] }), 'arrays match exactly');
  t.notOk(matches({ missing: 1 }, {}));
});

t.test('bad scenario files are refused with ERR_CONFORMANCE_SCENARIO naming the step', async (t) => {
  const base = { name: 'x', title: 't', spec: '§5' };
  const cases: Array<[unknown, RegExp]> = [
    [[], /must be a JSON object/],
    [{ ...base, steps: [] }, /non-empty/],
    [{ ...base, name: 'Bad Name', steps: [{ wait: 1 }] }, /name/],
    [{ ...base, steps: [{ send: { message: {} }, wait: 1 }] }, /step 1: needs exactly one/],
    [{ ...base, steps: [{ send: { shout: 'x' } }] }, /step 1: `send` needs exactly one/],
    [{ ...base, steps: [{ send: { hex: 'zz' } }] }, /hexadecimal/],
    [{ ...base, steps: [{ send: { split: { message: { msg: 'List' }, parts: 1 } } }] }, /`send.split` needs a `message` and `parts` >= 2/],
    [{ ...base, steps: [{ expect: { message: {} }, spec: '§5', title: 't' }] }, /clause/],
    [{ ...base, steps: [{ expect: { reply: {} }, clause: 'c', spec: '§5', title: 't' }] }, /exactly one of message, packet/],
    [{ ...base, steps: [{ expect: { message: { a: { $regex: 'x' } } }, clause: 'c', spec: '§5', title: 't' }] }, /unknown pattern operator \$regex/],
    [{ ...base, steps: [{ some: { message: {} }, before: 'nowhere', clause: 'c', spec: '§5', title: 't' }] }, /earlier expect/],
    [{ ...base, steps: [{ count: { message: {} }, exactly: -1, clause: 'c', spec: '§5', title: 't' }] }, /non-negative/],
    [{ ...base, steps: [{ wait: 1, when: { version: [1] } }] }, /unknown `when` member/],
    [
      { ...base, steps: [{ count: { message: {} }, exactly: 0, clause: 'c', spec: '§5', title: 't' }, { count: { message: {} }, exactly: 0, clause: 'c', spec: '§5', title: 't' }] },
      /used twice/,
    ],
  ];
  for (const [value, re] of cases) {
    let caught: unknown;
    try {
      parseScenario(value as Scenario, 'file.json');
    } catch (error) {
      caught = error;
    }
    t.ok(isSubrunError(caught, 'ERR_CONFORMANCE_SCENARIO'), `${String(re)}: coded error`);
    t.match((caught as Error | undefined)?.message, re);
    t.match((caught as Error | undefined)?.message, /^file\.json: /, 'names the file');
  }
});

t.test('a connector that cannot start the server rejects the run with ERR_CONFORMANCE_START', async (t) => {
  await t.rejects(
    runKit(scenarios, async () => {
      throw new Error('spawn nope ENOENT');
    }),
    { code: 'ERR_CONFORMANCE_START', message: /spawn nope ENOENT/ },
  );
});
