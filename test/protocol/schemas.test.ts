import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { validateMessage } from '../../src/rpc/messages.js';
import { ROOT } from '../helpers/paths.js';

// protocol/schemas/ (for other languages) and validateMessage (ours) must agree.
const dir = path.join(ROOT, 'protocol/schemas');
const ajv = new Ajv2020({ strict: true, allErrors: true });
for (const f of readdirSync(dir)) ajv.addSchema(JSON.parse(readFileSync(path.join(dir, f), 'utf8')));
const schema = ajv.getSchema('https://subrun.dev/protocol/schemas/message.json')!;

const valid: object[] = [
  { msg: 'Hello', min: 1, max: 2 },
  { msg: 'Hello', min: 1, max: 2, capabilities: { encodings: ['json', 'msgpack'], heartbeat: true }, agent: 'x', heartbeatMs: 100 },
  { msg: 'Hello', min: 2, max: 2, unknownMember: [1] },
  { msg: 'Goodbye' },
  { msg: 'List', nonce: 'r1' },
  { msg: 'List', nonce: 'r1', tests: ['a', 'b'], route: 'w0' },
  { msg: 'Run', nonce: 'a.b_c:d-1' },
  { msg: 'Run', nonce: 'r2', tests: [], timeoutMs: 1000, resources: { port: 2, host: { count: 1, match: { os: 'ubuntu' } } } },
  { msg: 'Done', nonce: 'anything goes' },
  { msg: 'Done', nonce: 'r1', cancelled: true, ran: 0, unknown: ['x'] },
  { msg: 'Error', code: 'ERR_X', message: 'm' },
  { msg: 'Error', code: 'ERR_X', message: 'm', nonce: 'r1', details: { tests: ['a'] } },
  { msg: 'Cancel', nonce: 'r1' },
  { msg: 'Heartbeat' },
  { msg: 'Heartbeat', nonce: 'p1', running: [{ nonce: 'r1', test: 'a', elapsedMs: 5 }] },
];
const invalid: object[] = [
  {},
  { msg: 42 },
  { msg: 'Hello', min: 0, max: 2 },
  { msg: 'Hello', min: 1 },
  { msg: 'Hello', min: 1.5, max: 2 },
  { msg: 'Hello', min: 1, max: 2, heartbeatMs: 10 },
  { msg: 'Hello', min: 1, max: 2, capabilities: [] },
  { msg: 'List' },
  { msg: 'List', nonce: '' },
  { msg: 'List', nonce: 'bad nonce' },
  { msg: 'List', nonce: 'r1', tests: 'a' },
  { msg: 'List', nonce: 'r1', route: 'a/b' },
  { msg: 'Run', nonce: 'r1', tests: [1] },
  { msg: 'Run', nonce: 'r1', timeoutMs: 0 },
  { msg: 'Run', nonce: 'r1', resources: { port: 0 } },
  { msg: 'Run', nonce: 'r1', resources: { port: { match: {} } } },
  { msg: 'Run', nonce: 'r1', resources: { port: { count: 1, match: { os: 1 } } } },
  { msg: 'Done' },
  { msg: 'Done', nonce: 'r1', ran: -1 },
  { msg: 'Error', code: 'ERR_X' },
  { msg: 'Cancel' },
  { msg: 'Heartbeat', running: {} },
  { msg: 'Frobnicate', nonce: 'r1' },
];

t.test('valid messages pass both the schemas and the validator', async (t) => {
  for (const m of valid) {
    t.ok(schema(m), `schema accepts ${JSON.stringify(m)}: ${ajv.errorsText(schema.errors)}`);
    t.ok(validateMessage(m, 2).ok, `validator accepts ${JSON.stringify(m)}`);
  }
});

t.test('invalid messages fail both', async (t) => {
  for (const m of invalid) {
    t.notOk(schema(m), `schema refuses ${JSON.stringify(m)}`);
    t.notOk(validateMessage(m, 2).ok, `validator refuses ${JSON.stringify(m)}`);
  }
});

t.test('what JSON Schema cannot say, the validator still checks', async (t) => {
  // min <= max spans two members; SPEC §5.6.
  t.notOk(validateMessage({ msg: 'Hello', min: 3, max: 2 }, 2).ok);
});

t.test('version 1 allows any non-empty nonce and knows only its five messages', async (t) => {
  t.ok(validateMessage({ msg: 'Run', nonce: 'arbitrary string here' }, 1).ok);
  t.match(validateMessage({ msg: 'Cancel', nonce: 'r1' }, 1), { ok: false, code: 'ERR_UNKNOWN_MESSAGE' });
  t.match(validateMessage({ msg: 'Heartbeat' }, 1), { ok: false, code: 'ERR_UNKNOWN_MESSAGE' });
});
