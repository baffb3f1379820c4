import t from 'tap';
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isSubrunError } from '../../src/core/errors.js';
import { parseJsonConfig, parseTestrConf, readConfigFile } from '../../src/runner/config/index.js';
import { parseTestList } from '../../src/runner/legacy/index.js';
import { encodePacket } from '../../src/subunit/encoder.js';

const onlyConfigErrors = (fn: () => unknown): boolean => {
  try {
    fn();
    return true;
  } catch (error) {
    return isSubrunError(error, 'ERR_CONFIG');
  }
};

t.test('arbitrary text never throws anything but ERR_CONFIG from either parser', async (t) => {
  const iniish = fc.array(fc.oneof(fc.constantFrom('[DEFAULT]', '[x]', 'test_command=', 'test_command = run $IDOPTION', 'test_id_option=%(', '  cont', '%%', '# c', '=', ':', 'group_regex=(', ''), fc.string()), { maxLength: 12 }).map((l) => l.join('\n'));
  fc.assert(fc.property(fc.oneof(fc.string(), iniish), (s) => onlyConfigErrors(() => parseTestrConf(s, '/f'))), { numRuns: 500 });
  const jsonish = fc.oneof(fc.json(), fc.string(), fc.dictionary(fc.constantFrom('testCommand', 'servers', 'timeouts', 'concurrency', 'resources', 'instances', 'x'), fc.jsonValue()).map((o) => JSON.stringify(o)));
  fc.assert(fc.property(jsonish, (s) => onlyConfigErrors(() => parseJsonConfig(s, '/f.json'))), { numRuns: 500 });
  t.pass('held');
});

t.test('parseTestList never throws on truncated, corrupt or random bytes', async (t) => {
  const good = Buffer.concat(['a', 'b', 'c'].map((id) => Buffer.from(encodePacket({ testId: id, status: 'exists' }))));
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(good.length), fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 }), (noise, cut, flip, value) => {
      const bytes = Buffer.from(good.subarray(0, cut));
      if (flip < bytes.length) bytes[flip] = value;
      const ids = parseTestList(Buffer.concat([noise, bytes]));
      return Array.isArray(ids) && ids.every((id) => typeof id === 'string');
    }),
    { numRuns: 500 },
  );
  t.pass('held');
});

t.test('oversized or unreadable config files are refused before reading', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'subrun-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const big = path.join(dir, '.testr.conf');
  writeFileSync(big, '[DEFAULT]\ntest_command=x\n' + '#'.repeat(2 * 1024 * 1024));
  await t.rejects(readConfigFile(big), { code: 'ERR_CONFIG', message: /at most/ });
  await t.rejects(readConfigFile(path.join(dir, 'missing.json')), { code: 'ERR_CONFIG', message: /cannot read: ENOENT/ });
});
