import t from 'tap';
import { loadVectors } from '../helpers/vectors.js';

// SPEC §2.8: a vector's description is documentation; where it states a count, the vector holds that count.
const WORDS: Record<string, number> = { zero: 0, one: 1, two: 2, three: 3 };
const count = (word: string): number => WORDS[word] ?? Number(word);

function fileLength(fileBytes: unknown): number {
  const f = fileBytes as { base64?: string; length?: number };
  return f.base64 !== undefined ? Buffer.from(f.base64, 'base64').length : f.length!;
}

t.test('vector descriptions state the counts the vectors hold', async (t) => {
  let checked = 0;
  for (const v of loadVectors()) {
    const call = v.calls[0] ?? {};
    const d = v.description;
    let m: RegExpExecArray | null;
    if ((m = /\b(\d+|zero|one|two|three) tags?\b/.exec(d))) {
      t.equal((call['test_tags'] as string[] | undefined)?.length, count(m[1]!), `${v.name}: ${d}`);
      checked++;
    }
    if ((m = /A test id of (\d+) bytes/.exec(d))) {
      t.equal(Buffer.byteLength(call['test_id'] as string), count(m[1]!), `${v.name}: ${d}`);
      checked++;
    }
    if ((m = /File content of (\d+|zero) bytes/.exec(d))) {
      t.equal(fileLength(call['file_bytes']), count(m[1]!), `${v.name}: ${d}`);
      checked++;
    }
    if ((m = /Timestamp with (\d+) nanoseconds/.exec(d))) {
      const frac = /\.(\d+)Z$/.exec(call['timestamp'] as string)?.[1] ?? '';
      t.equal(Number(frac.padEnd(9, '0')), count(m[1]!), `${v.name}: ${d}`);
      checked++;
    }
    if ((m = /A packet of exactly (\d+) bytes/.exec(d))) {
      t.equal(v.bytes.length, count(m[1]!), `${v.name}: ${d}`);
      checked++;
    }
  }
  t.ok(checked >= 20, `${checked} descriptions checked`);
});
