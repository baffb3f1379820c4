import { parseJsonConfig } from './json-config.js';
import { parseTestrConf } from './testr-conf.js';

export interface InitOptions {
  /** @default DEFAULT_TEST_COMMAND */
  testCommand?: string;
  /** @default '--load-list $IDFILE' */
  testIdOption?: string;
  /** @default '--list' */
  testListOption?: string;
  groupRegex?: string;
  /** Adds test_server_command (server mode). */
  testServerCommand?: string;
  /** Fixed concurrency (JSON only; .testr.conf has only the test_run_concurrency command). */
  concurrency?: number;
}

/** A Python unittest project's usual command, as testr and stestr users write it. */
export const DEFAULT_TEST_COMMAND = '${PYTHON:-python3} -m subunit.run discover -t . . $LISTOPT $IDOPTION';

function resolved(options: InitOptions): Required<Pick<InitOptions, 'testCommand' | 'testIdOption' | 'testListOption'>> & InitOptions {
  return {
    ...options,
    testCommand: options.testCommand ?? DEFAULT_TEST_COMMAND,
    testIdOption: options.testIdOption ?? '--load-list $IDFILE',
    testListOption: options.testListOption ?? '--list',
  };
}

/**
 * A `.testr.conf` for `subrun init --format testr` (SPEC §14.2). `%` is written as
 * `%%` so ConfigParser (testr's and ours) reads the command back unchanged. The text is
 * checked by parsing it before it is returned.
 */
export function renderTestrConf(options: InitOptions, file: string): string {
  const o = resolved(options);
  const esc = (v: string): string => v.replace(/%/g, '%%').replace(/\n/g, '\n  ');
  const lines = ['[DEFAULT]', `test_command=${esc(o.testCommand)}`, `test_id_option=${esc(o.testIdOption)}`, `test_list_option=${esc(o.testListOption)}`];
  if (o.groupRegex !== undefined) lines.push(`group_regex=${esc(o.groupRegex)}`);
  if (o.testServerCommand !== undefined) lines.push(`test_server_command=${esc(o.testServerCommand)}`);
  const text = lines.join('\n') + '\n';
  parseTestrConf(text, file);
  return text;
}

/** A `subrun.config.json` for `subrun init --format json` (SPEC §14.5), checked by parsing it. */
export function renderJsonConfig(options: InitOptions, file: string): string {
  const o = resolved(options);
  const config: Record<string, unknown> = {
    testCommand: o.testCommand,
    testIdOption: o.testIdOption,
    testListOption: o.testListOption,
    ...(o.groupRegex === undefined ? {} : { groupRegex: o.groupRegex }),
    concurrency: o.concurrency ?? 'auto',
    ...(o.testServerCommand === undefined ? {} : { testServerCommand: o.testServerCommand }),
    timeouts: { handshake: '10s', hang: '30s', list: '5m' },
  };
  const text = JSON.stringify(config, null, 2) + '\n';
  parseJsonConfig(text, file);
  return text;
}
