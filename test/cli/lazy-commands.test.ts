import t from 'tap';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { Command } from 'commander';
import { COMMAND_GROUPS, groupsFor } from '../../src/cli/program.js';
import { createContext } from '../../src/cli/context.js';
import { runSubrun } from '../helpers/cli.js';
import { BIN, ROOT } from '../helpers/paths.js';

const LOG_LOADS = path.join(ROOT, 'test', 'cli', 'fixtures', 'log-module-loads.mjs');
const GROUP_FILES = ['serve', 'history', 'pool', 'init', 'stream', 'check', 'run'];
const ALL = COMMAND_GROUPS.flatMap((g) => g.commands);

/** The command-group modules (src/cli/<name>.js) a real `subrun ARGS` process loads. */
function groupFilesLoaded(args: string[]): { status: number | null; loaded: string[] } {
  const r = spawnSync(process.execPath, ['--import', LOG_LOADS, BIN, ...args], { encoding: 'utf8' });
  const loaded = GROUP_FILES.filter((name) => r.stderr.includes(`/dist/src/cli/${name}.js\n`));
  return { status: r.status, loaded };
}

t.test('each group lists exactly the top-level commands its module registers, in help order', async (t) => {
  const ctx = createContext({ stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: {}, cwd: ROOT, isTTY: false });
  for (const group of COMMAND_GROUPS) {
    const program = new Command('subrun');
    (await group.load())(program, ctx);
    t.same(program.commands.map((c) => c.name()), group.commands);
  }
  const help = await runSubrun(['--help']);
  const listed = [...help.stdout.matchAll(/^ {2}([a-z]+)\b/gm)].map((m) => m[1]).filter((n) => n !== 'help');
  t.same(listed, ALL, '`subrun --help` lists every command, in the groups\' order');
});

t.test('a command line picks only the group it names', async (t) => {
  t.same(groupsFor(['failing', '--list']).map((g) => g.commands), [COMMAND_GROUPS[1]!.commands]);
  t.same(groupsFor(['run', '--failing']).map((g) => g.commands), [['run', 'list']]);
  t.same(groupsFor(['--version']), [], '--version needs no command');
  t.same(groupsFor(['-V']), []);
  t.equal(groupsFor(['--version', '--help']), COMMAND_GROUPS, 'help wins over version');
  t.equal(groupsFor([]), COMMAND_GROUPS);
  t.equal(groupsFor(['--help']), COMMAND_GROUPS);
  t.equal(groupsFor(['help', 'run']), COMMAND_GROUPS);
  t.equal(groupsFor(['fialing']), COMMAND_GROUPS, 'a misspelling gets suggestions from every name');
});

t.test('every command\'s --help, loaded alone, is the help it has among all the others', async (t) => {
  for (const name of ALL) {
    const alone = await runSubrun([name, '--help']);
    // `help NAME` loads every group, then prints NAME's help.
    const among = await runSubrun(['help', name]);
    t.equal(alone.code, 0, name);
    t.match(alone.stdout, new RegExp(`^Usage: subrun ${name} `), name);
    t.equal(alone.stdout, among.stdout, `${name} --help`);
  }
  const typo = await runSubrun(['fialing']);
  t.equal(typo.code, 2);
  t.match(typo.stderr, /Did you mean failing\?/);
});

t.test('a real process imports only the command group it runs', async (t) => {
  t.same(groupFilesLoaded(['--version']), { status: 0, loaded: [] });
  t.same(groupFilesLoaded(['failing', '--help']), { status: 0, loaded: ['history'] });
  t.same(groupFilesLoaded(['run', '--help']), { status: 0, loaded: ['run'] });
  t.same(groupFilesLoaded(['--help']), { status: 0, loaded: GROUP_FILES });
});
