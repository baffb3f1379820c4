/** The server thread of `subrun serve` (see serve-thread.ts): `serve` with signals from the main thread. */
import { EventEmitter } from 'node:events';
import { parentPort, workerData } from 'node:worker_threads';
import { SubrunError } from '../core/errors.js';
import { serve } from './serve.js';
import type { ServeThreadData, ServeThreadOutcome, ServeThreadSignal } from './serve-thread.js';

const port = parentPort!;
const data = workerData as ServeThreadData;
const signals = new EventEmitter();
port.on('message', (message: ServeThreadSignal) => {
  if (message.type === 'signal') signals.emit(message.name);
});

let outcome: ServeThreadOutcome;
try {
  outcome = { type: 'exit', code: await serve(data.files, data.options, { env: process.env, cwd: data.cwd, stdout: process.stdout, signals }) };
} catch (error) {
  if (error instanceof SubrunError) {
    outcome = { type: 'error', ...error.toJSON() };
  } else {
    outcome = { type: 'error', message: error instanceof Error ? error.message : String(error), ...(error instanceof Error && error.stack !== undefined ? { stack: error.stack } : {}) };
  }
}
port.postMessage(outcome);
