import path from 'node:path';
import type { Transport } from '../../src/transport/transport.js';
import { ROOT } from '../helpers/paths.js';

/** The echo fixture, compiled. */
export const ECHO = path.join(ROOT, 'dist', 'test', 'transport', 'fixtures', 'echo.js');

/** In-process echo peer: what comes in goes back out; our EOF ends it unless ignoreEof. */
export function echoOn(transport: Transport, ignoreEof = false): void {
  transport.stream.on('error', () => {});
  transport.stream.pipe(transport.stream, { end: !ignoreEof });
}
