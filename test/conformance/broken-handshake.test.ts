import t from 'tap';
import { checkBroken } from './broken.js';

// Each broken server spawns 14 processes on a shared 2-core machine.
t.setTimeout(300_000);

for (const kind of ['no-hello', 'bad-range', 'answer-pre-hello', 'ignore-goodbye']) {
  t.test(`a server that breaks the rule "${kind}" fails exactly the clauses about it`, (t) => checkBroken(t, kind));
}
