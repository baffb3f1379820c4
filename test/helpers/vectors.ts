import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ROOT } from './paths.js';

/** A golden vector of protocol/vectors/, written by python-subunit (scripts/gen-vectors.py). */
export interface Vector {
  name: string;
  description: string;
  bytes: Buffer;
  calls: Record<string, unknown>[];
  events: Record<string, unknown>[];
}

export const VECTOR_DIR = path.join(ROOT, 'protocol', 'vectors');

export function loadVectors(): Vector[] {
  const names = JSON.parse(readFileSync(path.join(VECTOR_DIR, 'index.json'), 'utf8')) as string[];
  return names.map((name) => {
    const doc = JSON.parse(readFileSync(path.join(VECTOR_DIR, `${name}.json`), 'utf8')) as Omit<Vector, 'bytes'>;
    let bytes: Buffer;
    try {
      bytes = readFileSync(path.join(VECTOR_DIR, `${name}.bin`));
    } catch {
      bytes = gunzipSync(readFileSync(path.join(VECTOR_DIR, `${name}.bin.gz`)));
    }
    return { ...doc, bytes };
  });
}
