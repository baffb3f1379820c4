import t from 'tap';
import { InvalidArgumentError, SubrunError, isSubrunError, describeValue } from '../../src/core/errors.js';
import { assertInteger } from '../../src/core/assert.js';

t.test('SubrunError carries a stable code and serialises it', async (t) => {
  const e = new SubrunError('ERR_X', 'boom', { details: { offset: 4 } });
  t.equal(e.code, 'ERR_X');
  t.ok(isSubrunError(e, 'ERR_X'));
  t.notOk(isSubrunError(e, 'ERR_Y'));
  t.notOk(isSubrunError(new Error('x')));
  t.same(e.toJSON(), { code: 'ERR_X', message: 'boom', details: { offset: 4 } });
});

t.test('argument errors name the argument, the expectation and the value', async (t) => {
  t.throws(() => assertInteger('concurrency', -1, 1), {
    code: 'ERR_INVALID_ARGUMENT',
    message: 'Expected `concurrency` to be an integer >= 1, got `-1`',
  });
  t.throws(() => assertInteger('width', 9, 1, 4), { message: 'Expected `width` to be an integer in [1, 4], got `9`' });
  t.type(new InvalidArgumentError('a', 'b', 'c'), SubrunError);
  t.equal(describeValue('x'.repeat(100)).length, 62);
  t.equal(describeValue(new Uint8Array(3)), 'bytes(3)');
  t.equal(describeValue([1, 2]), 'array(2)');
});
