import t from 'tap';
import fc from 'fast-check';
import { isSubrunError } from '../../src/core/errors.js';
import { LIMITS, parseClientMessage, parseNeedText, parseResourceText } from '../../src/pool/messages.js';
import { POOL_ERROR_STATUS, toWireError } from '../../src/pool/errors.js';

t.test('need and resource text forms', async (t) => {
  t.same(parseNeedText('port'), { type: 'port', count: 1, attrs: {} });
  t.same(parseNeedText('port=2'), { type: 'port', count: 2, attrs: {} });
  t.same(parseNeedText('compute:os=ubuntu'), { type: 'compute', count: 1, attrs: { os: 'ubuntu' } });
  t.same(parseNeedText('compute=3:os=ubuntu,arch=arm64'), { type: 'compute', count: 3, attrs: { os: 'ubuntu', arch: 'arm64' } });
  for (const bad of ['', '=2', 'port=0', 'port=x', 'port:os', 'po rt', 'port=1001', 'compute:=x']) {
    t.throws(() => parseNeedText(bad), { code: 'ERR_POOL_BAD_REQUEST' }, `rejects ${JSON.stringify(bad)}`);
  }
  t.same(parseResourceText('port=7000'), { type: 'port', value: '7000', attrs: {} });
  t.same(parseResourceText('compute=h1.example.com,os=ubuntu,arch=arm64'), { type: 'compute', value: 'h1.example.com', attrs: { os: 'ubuntu', arch: 'arm64' } });
  for (const bad of ['port', '=7000', 'port=', 'port=1,os']) t.throws(() => parseResourceText(bad), { code: 'ERR_POOL_BAD_REQUEST' });
});

t.test('client messages: valid forms and defaults', async (t) => {
  t.same(parseClientMessage('{"op":"hello"}'), { op: 'hello', client: 'anonymous', graceMs: 0, resume: null, protocol: 1 });
  t.same(parseClientMessage('{"op":"acquire","id":"1","needs":[{"type":"port"}]}'), { op: 'acquire', id: '1', needs: [{ type: 'port', count: 1, attrs: {} }], quiet: false, release: null });
  t.same(parseClientMessage('{"op":"verify","lease":"L1","fence":3}'), { op: 'verify', lease: 'L1', fence: 3, resources: [] });
});

t.test('attribute names cannot reach the prototype', async (t) => {
  const m = parseClientMessage('{"op":"acquire","id":"1","needs":[{"type":"port","attrs":{"constructor":"x"}}]}');
  t.equal(Object.getPrototypeOf({}).polluted, undefined);
  t.equal(m.op, 'acquire');
  t.throws(() => parseClientMessage('{"op":"acquire","id":"1","needs":[{"type":"port","attrs":{"__proto__":{"a":"b"}}}]}'), { code: 'ERR_POOL_BAD_REQUEST' });
});

t.test('fuzz: any text or JSON value is parsed or refused with a coded 400, never a crash', async (t) => {
  const check = (text: string) => {
    try {
      parseClientMessage(text);
    } catch (error) {
      if (!isSubrunError(error, 'ERR_POOL_BAD_REQUEST')) throw error;
      const wire = toWireError(error);
      if (wire.status !== 400) throw new Error('not a 400');
    }
  };
  fc.assert(fc.property(fc.string({ maxLength: 300 }), check), { numRuns: 2000 });
  fc.assert(fc.property(fc.json({ maxDepth: 4 }), check), { numRuns: 2000 });
  const shaped = fc.record({
    op: fc.constantFrom('hello', 'acquire', 'release', 'cancel', 'verify', 'ping', 'x'),
    id: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
    needs: fc.oneof(fc.array(fc.record({ type: fc.oneof(fc.string(), fc.integer()), count: fc.oneof(fc.integer(), fc.double(), fc.string()), attrs: fc.oneof(fc.object(), fc.string()) })), fc.anything()),
    lease: fc.anything(),
    fence: fc.anything(),
    graceMs: fc.anything(),
    resume: fc.anything(),
  }, { requiredKeys: ['op'] });
  fc.assert(fc.property(shaped, (m) => check(JSON.stringify(m))), { numRuns: 3000 });
  t.pass('7,000 inputs: no uncoded throw');
});

t.test('every wire error code has a fitting HTTP status', async (t) => {
  for (const [code, status] of Object.entries(POOL_ERROR_STATUS)) {
    t.ok([400, 401, 403, 404, 409, 413, 422, 500].includes(status), `${code} → ${status}`);
  }
  t.same(toWireError(new Error('boom')), { status: 500, code: 'ERR_POOL_INTERNAL', message: 'internal error' }, 'internals do not leak');
  t.equal(LIMITS.maxMessageBytes, 65536);
});
