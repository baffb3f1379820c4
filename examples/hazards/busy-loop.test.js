// Kept out of a normal run (examples/hazards/): a synchronous loop blocks its thread,
// so only terminating the worker stops it. The server stays responsive meanwhile.
import { test } from 'subrun/test';

test('spins forever', { timeout: 300 }, () => {
  for (;;) {
    // no await: the in-worker timer can never fire
  }
});

test('runs in a fresh worker afterwards', () => {});
