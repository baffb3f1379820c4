// Crashes inside test code are charged to the test that caused them; the suite goes on.
import { test } from 'subrun/test';

test('throws from a timer (uncaught exception)', async () => {
  setTimeout(() => {
    throw new Error('thrown from a timer');
  }, 1);
  await new Promise((resolve) => setTimeout(resolve, 200));
});

test('rejects a promise nobody awaits (unhandled rejection)', async () => {
  Promise.reject(new Error('nobody caught me'));
  await new Promise((resolve) => setTimeout(resolve, 200));
});

test('calls process.exit', () => {
  process.exit(7);
});

test('still runs after the crashes', () => {});
