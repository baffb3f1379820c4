import { compileGroupRegex } from './runner-config.js';
import { configError } from './config-error.js';
import type { ServerEntry } from './runner-config.js';

/** Check that a group_regex compiles as the runner will use it (SPEC §14.2). */
export function checkRegex(file: string, key: string, source: string): void {
  try {
    compileGroupRegex(source);
  } catch (error) {
    throw configError(file, key, `not a valid regular expression: ${(error as Error).message}`);
  }
}

/** Check that a command that uses `$IDOPTION`/`$LISTOPT` has the option it needs (testrepository raises the same). */
export function checkCommandOptions(
  file: string,
  keys: { command: string; idOption: string; listOption: string },
  command: string,
  idOption: string | undefined,
  listOption: string | undefined,
): void {
  if (command.includes('$IDOPTION') && idOption === undefined) {
    throw configError(file, keys.idOption, `is required because ${keys.command} uses $IDOPTION`);
  }
  if (command.includes('$LISTOPT') && listOption === undefined) {
    throw configError(file, keys.listOption, `is required because ${keys.command} uses $LISTOPT`);
  }
}

/** Parse one server URL (SPEC §14.5). */
export function parseServerUrl(file: string, key: string, url: string): ServerEntry {
  if (url === 'local:' || url === 'local') return { kind: 'local', url: 'local:' };
  if (url.startsWith('unix:')) {
    const path = url.slice('unix:'.length).replace(/^\/\/(?=\/)/, '');
    if (path === '') throw configError(file, key, `${JSON.stringify(url)} names no socket path (unix:/path/to.sock)`);
    return { kind: 'unix', url, path };
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw configError(file, key, `${JSON.stringify(url)} is not a URL (local:, ssh://host/path, tcp://host:port, unix:/path, ws://host:port/path)`);
  }
  switch (parsed.protocol) {
    case 'ssh:': {
      const path = decodeURIComponent(parsed.pathname);
      if (parsed.hostname === '' || path === '' || path === '/') {
        throw configError(file, key, `${JSON.stringify(url)} needs a host and an absolute project path (ssh://[user@]host[:port]/path)`);
      }
      return {
        kind: 'ssh',
        url,
        host: parsed.hostname,
        path,
        ...(parsed.username === '' ? {} : { user: decodeURIComponent(parsed.username) }),
        ...(parsed.port === '' ? {} : { port: Number(parsed.port) }),
      };
    }
    case 'tcp:': {
      if (parsed.hostname === '' || parsed.port === '') throw configError(file, key, `${JSON.stringify(url)} needs a host and a port (tcp://host:port)`);
      return { kind: 'tcp', url, host: parsed.hostname.replace(/^\[|\]$/g, ''), port: Number(parsed.port) };
    }
    case 'ws:':
    case 'wss:':
      if (parsed.hostname === '') throw configError(file, key, `${JSON.stringify(url)} needs a host`);
      return { kind: 'ws', url };
    default:
      throw configError(file, key, `unsupported scheme ${JSON.stringify(parsed.protocol)} (use local:, ssh:, tcp:, unix:, ws: or wss:)`);
  }
}
