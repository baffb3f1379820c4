// An asynchronous test past its timeout fails with a timeout reason; the next test runs normally.
import { test } from 'subrun/test';

test('waits too long', { timeout: 100 }, async () => {
  await new Promise((resolve) => setTimeout(resolve, 5_000));
});

test('runs after the timeout', () => {});
