import { closeSync, openSync, readdirSync, readSync } from 'node:fs';
import path from 'node:path';

/** Stream files are `runs/<id>.subunit` (SPEC §13.1). */
const STREAM_NAME = /^(0|[1-9]\d{0,14})\.subunit$/;

export function streamPath(runsDir: string, id: number): string {
  return path.join(runsDir, `${id}.subunit`);
}

/** The run ids that have a stream file, ascending. */
export function listStreamIds(runsDir: string): number[] {
  const ids: number[] = [];
  for (const name of readdirSync(runsDir)) {
    const m = STREAM_NAME.exec(name);
    if (m !== null) ids.push(Number(m[1]));
  }
  return ids.sort((a, b) => a - b);
}

/** Reads a file synchronously in chunks (recovery and rebuilding run before the store is usable). */
export function* readChunks(file: string, chunkBytes = 1 << 20): Generator<Uint8Array> {
  const fd = openSync(file, 'r');
  try {
    for (;;) {
      const buf = new Uint8Array(chunkBytes);
      const n = readSync(fd, buf, 0, chunkBytes, null);
      if (n === 0) return;
      yield n === chunkBytes ? buf : buf.subarray(0, n);
    }
  } finally {
    closeSync(fd);
  }
}
