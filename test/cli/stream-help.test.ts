import t from 'tap';
import { runSubrun } from '../helpers/cli.js';

// commander wraps help to the terminal, or to 80 columns when output is not a terminal.
const WIDTH = process.stdout.isTTY ? process.stdout.columns : 80;
const SUBCOMMANDS = ['decode', 'encode', 'stats', 'ls', 'junit', 'filter'];

/** The description: the paragraphs between the usage line and the first heading. */
function descriptionParagraphs(help: string): string[][] {
  const lines = help.split('\n');
  const start = lines.findIndex((l) => l.startsWith('Usage:')) + 2;
  const end = lines.findIndex((l, i) => i >= start && /^(Arguments|Options|Commands):$/.test(l));
  const paragraphs: string[][] = [[]];
  for (const line of lines.slice(start, end)) {
    if (line === '') paragraphs.push([]);
    else paragraphs.at(-1)!.push(line);
  }
  return paragraphs.filter((p) => p.length > 0);
}

t.test('the stream commands’ help reads well at the terminal width', async (t) => {
  for (const sub of ['', ...SUBCOMMANDS]) {
    const args = sub === '' ? ['stream', '--help'] : ['stream', sub, '--help'];
    const r = await runSubrun(args);
    t.equal(r.code, 0, args.join(' '));
    for (const line of r.stdout.split('\n')) t.ok(line.length <= WIDTH, `${args.join(' ')}: fits ${WIDTH} columns: ${JSON.stringify(line)}`);
    t.notMatch(r.stdout, /\(default: \[\]\)/, `${args.join(' ')}: no misleading empty default`);
    // Wrapped, not broken by hand: each line of a paragraph is full, i.e. the next
    // line's first word would not have fitted on it.
    for (const paragraph of descriptionParagraphs(r.stdout)) {
      for (let i = 0; i + 1 < paragraph.length; i++) {
        const next = paragraph[i + 1]!.split(' ')[0]!;
        t.ok(paragraph[i]!.length + 1 + next.length > WIDTH, `${args.join(' ')}: ${JSON.stringify(paragraph[i])} is a full line`);
      }
    }
  }
});

t.test('each stream command has a one-line summary in `stream --help`', async (t) => {
  const r = await runSubrun(['stream', '--help']);
  for (const sub of SUBCOMMANDS) t.match(r.stdout, new RegExp(`^  ${sub} \\[`, 'm'), sub);
  t.ok(r.stdout.split('\n').length < 25, 'the list is a summary, not every description in full');
});
