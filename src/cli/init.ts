import { writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import { SubrunError } from '../core/errors.js';
import { JSON_CONFIG, TESTR_CONF } from '../runner/config/load-config.js';
import { DEFAULT_TEST_COMMAND, renderJsonConfig, renderTestrConf, type InitOptions } from '../runner/config/templates.js';
import type { CliContext } from './context.js';

interface InitFlags {
  format: 'json' | 'testr';
  command?: string;
  idOption?: string;
  listOption?: string;
  groupRegex?: string;
  serverCommand?: string;
  concurrency?: string;
}

/** `subrun init`: write a runner configuration, never over an existing one (SPEC §14.1). */
export function registerInitCommands(program: Command, ctx: CliContext): void {
  program
    .command('init')
    .summary('write a runner configuration (subrun.config.json or .testr.conf)')
    .description(
      `Write a runner configuration in the current directory: ${JSON_CONFIG} (the default) or, with\n` +
        `--format testr, a ${TESTR_CONF} that testrepository reads too. Refuses to run when either\n` +
        'file exists (a directory holds one configuration). See SPEC.md §14 for every key.',
    )
    .addOption(new Option('--format <format>', 'which file to write').choices(['json', 'testr']).default('json'))
    .option('--command <cmd>', `the test command (test_command), a shell command line writing subunit v2\n(default: ${DEFAULT_TEST_COMMAND})`)
    .option('--id-option <text>', 'what $IDOPTION becomes when specific ids run (default: --load-list $IDFILE)')
    .option('--list-option <text>', 'what $LISTOPT becomes when listing (default: --list)')
    .option('--group-regex <regex>', 'tests whose ids match the same prefix run on the same worker')
    .option('--server-command <cmd>', 'the test server command (test_server_command): switches to server mode')
    .option('--concurrency <n>', 'fixed number of workers (json only; default: the CPU count)')
    .addHelpText('after', '\nExamples:\n  subrun init\n  subrun init --format testr --command \'python3 -m subunit.run $LISTOPT $IDOPTION mypkg.tests\'\n\nExit codes: 0 written, 2 a configuration exists already or a bad option.')
    .action(async (flags: InitFlags) => {
      const file = path.resolve(ctx.cwd, flags.format === 'json' ? JSON_CONFIG : TESTR_CONF);
      for (const existing of [JSON_CONFIG, TESTR_CONF].map((f) => path.resolve(ctx.cwd, f))) {
        if (existsSync(existing)) throw new SubrunError('ERR_USAGE', `${existing} already exists; subrun init never overwrites a configuration`, { details: { file: existing } });
      }
      const options: InitOptions = {
        ...(flags.command === undefined ? {} : { testCommand: flags.command }),
        ...(flags.idOption === undefined ? {} : { testIdOption: flags.idOption }),
        ...(flags.listOption === undefined ? {} : { testListOption: flags.listOption }),
        ...(flags.groupRegex === undefined ? {} : { groupRegex: flags.groupRegex }),
        ...(flags.serverCommand === undefined ? {} : { testServerCommand: flags.serverCommand }),
      };
      if (flags.concurrency !== undefined) {
        if (flags.format !== 'json') throw new SubrunError('ERR_USAGE', '--concurrency needs --format json (.testr.conf has only the test_run_concurrency command)');
        const n = Number(flags.concurrency);
        if (!/^\d+$/.test(flags.concurrency) || n < 1) throw new SubrunError('ERR_USAGE', `--concurrency must be a positive integer, got ${JSON.stringify(flags.concurrency)}`);
        options.concurrency = n;
      }
      const text = flags.format === 'json' ? renderJsonConfig(options, file) : renderTestrConf(options, file);
      try {
        await writeFile(file, text, { flag: 'wx' });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new SubrunError('ERR_USAGE', `${file} already exists; subrun init never overwrites a configuration`);
        throw new SubrunError('ERR_CONFIG', `cannot write ${file}: ${(error as Error).message}`, { cause: error });
      }
      ctx.stdout.write(`wrote ${path.relative(ctx.cwd, file)}\n`);
    });
}
