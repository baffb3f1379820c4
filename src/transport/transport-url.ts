import { SubrunError } from '../core/errors.js';

/** A parsed transport address (SPEC §9.2). */
export type TransportAddress =
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'unix'; path: string }
  | { kind: 'ws'; secure: boolean; host: string; port: number; path: string; href: string }
  | { kind: 'ssh'; user: string | undefined; host: string; port: number | undefined; command: string };

/** SPEC §9.2: longer URLs are rejected before any parsing. */
export const MAX_URL_LENGTH = 4096;
/** Linux `sun_path` holds 108 bytes including the terminating NUL. */
export const MAX_UNIX_PATH_BYTES = 107;

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*\.?$/;
const IPV6 = /^[0-9A-Fa-f:.]{2,45}$/;
// Starts with a letter or digit so that it can never be read as an ssh option (`-oProxyCommand=...`).
const SSH_USER = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;

function urlError(url: string, reason: string): SubrunError {
  return new SubrunError('ERR_TRANSPORT_URL', `Invalid transport URL ${JSON.stringify(url.length > 200 ? url.slice(0, 197) + '...' : url)}: ${reason}`, {
    details: { reason },
  });
}

/**
 * Parse `host:port` (host may be `[v6]`). `allowZero` is for listen(), where port 0 asks
 * the kernel for a free port.
 */
function parseHostPort(url: string, text: string, allowZero: boolean, portRequired: boolean): { host: string; port: number | undefined } {
  let host: string;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const end = text.indexOf(']');
    if (end < 0) throw urlError(url, 'unterminated [IPv6] host');
    host = text.slice(1, end);
    if (!IPV6.test(host) || !host.includes(':')) throw urlError(url, `bad IPv6 address ${JSON.stringify(host)}`);
    const rest = text.slice(end + 1);
    if (rest !== '' && !rest.startsWith(':')) throw urlError(url, 'expected :port after ]');
    portText = rest === '' ? undefined : rest.slice(1);
  } else {
    const colon = text.lastIndexOf(':');
    host = colon < 0 ? text : text.slice(0, colon);
    portText = colon < 0 ? undefined : text.slice(colon + 1);
    if (!HOSTNAME.test(host)) throw urlError(url, `bad host ${JSON.stringify(host)}`);
  }
  if (portText === undefined) {
    if (portRequired) throw urlError(url, 'a port is required');
    return { host, port: undefined };
  }
  if (!/^\d{1,5}$/.test(portText)) throw urlError(url, `bad port ${JSON.stringify(portText)}`);
  const port = Number(portText);
  if (port > 65535 || (port === 0 && !allowZero)) throw urlError(url, `port out of range: ${port}`);
  return { host, port };
}

/**
 * Parse a transport URL (SPEC §9.2). Never throws anything but ERR_TRANSPORT_URL.
 * `forListen` allows port 0 (any free port) and rejects schemes that cannot listen.
 */
export function parseTransportUrl(url: unknown, options: { forListen?: boolean } = {}): TransportAddress {
  if (typeof url !== 'string') throw urlError(String(url), 'not a string');
  if (url.length === 0) throw urlError(url, 'empty');
  if (url.length > MAX_URL_LENGTH) throw urlError(url, `longer than ${MAX_URL_LENGTH} characters`);
  // Control characters and whitespace have no place in an address and hide mistakes in logs.
  if (/[\u0000-\u0020\u007f-\u009f]/.test(url) && !url.startsWith('ssh://')) throw urlError(url, 'contains whitespace or control characters');
  if (/[\u0000-\u001f\u007f-\u009f]/.test(url)) throw urlError(url, 'contains control characters');
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(url);
  if (m === null) throw urlError(url, 'no scheme (expected tcp://, unix:, ws://, wss:// or ssh://)');
  const scheme = m[1]!.toLowerCase();
  const rest = url.slice(m[0].length);
  const forListen = options.forListen === true;
  switch (scheme) {
    case 'tcp': {
      if (!rest.startsWith('//')) throw urlError(url, 'expected tcp://host:port');
      const authority = rest.slice(2).replace(/\/$/, '');
      if (/[/?#@]/.test(authority)) throw urlError(url, 'tcp URLs take only host:port');
      const { host, port } = parseHostPort(url, authority, forListen, true);
      return { kind: 'tcp', host, port: port! };
    }
    case 'unix': {
      // unix:/abs/path, unix:rel/path, or unix:///abs/path (empty authority).
      let p = rest;
      if (p.startsWith('//')) {
        if (!p.startsWith('///')) throw urlError(url, 'unix URLs have no host: use unix:/path or unix:///path');
        p = p.slice(2);
      }
      if (p === '') throw urlError(url, 'empty socket path');
      if (/[?#]/.test(p)) throw urlError(url, 'unix socket paths may not contain ? or #');
      if (Buffer.byteLength(p) > MAX_UNIX_PATH_BYTES) throw urlError(url, `socket path longer than ${MAX_UNIX_PATH_BYTES} bytes`);
      return { kind: 'unix', path: p };
    }
    case 'ws':
    case 'wss': {
      if (forListen && scheme === 'wss') throw urlError(url, 'listen() does not serve wss://; put a TLS proxy in front');
      if (!rest.startsWith('//')) throw urlError(url, `expected ${scheme}://host:port/path`);
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        throw urlError(url, 'malformed');
      }
      if (parsed.username !== '' || parsed.password !== '') throw urlError(url, 'credentials in ws URLs are not supported');
      if (parsed.hash !== '') throw urlError(url, 'ws URLs may not have a #fragment');
      const authority = rest.slice(2).split(/[/?#]/, 1)[0]!;
      const { host, port } = parseHostPort(url, authority, forListen, false);
      const realPort = port ?? (scheme === 'wss' ? 443 : 80);
      return { kind: 'ws', secure: scheme === 'wss', host, port: realPort, path: parsed.pathname + parsed.search, href: parsed.href };
    }
    case 'ssh': {
      if (forListen) throw urlError(url, 'ssh:// can only be dialled');
      if (!rest.startsWith('//')) throw urlError(url, 'expected ssh://[user@]host[:port]/command');
      const body = rest.slice(2);
      const slash = body.indexOf('/');
      const authority = slash < 0 ? body : body.slice(0, slash);
      if (/\s/.test(authority)) throw urlError(url, 'whitespace in the ssh host part');
      const at = authority.lastIndexOf('@');
      let user: string | undefined;
      if (at >= 0) {
        user = decodePart(url, authority.slice(0, at));
        if (!SSH_USER.test(user)) throw urlError(url, `bad ssh user ${JSON.stringify(user)}`);
      }
      const { host, port } = parseHostPort(url, authority.slice(at + 1), false, false);
      const command = slash < 0 ? '' : decodePart(url, body.slice(slash + 1));
      if (command.trim() === '') throw urlError(url, 'an ssh URL needs the remote command as its path: ssh://host/command');
      return { kind: 'ssh', user, host, port, command };
    }
    case 'stdio':
      throw urlError(url, 'stdio transports are made with spawnTransport(command), not dialled');
    default:
      throw urlError(url, `unknown scheme ${JSON.stringify(scheme)} (expected tcp://, unix:, ws://, wss:// or ssh://)`);
  }
}

function decodePart(url: string, text: string): string {
  try {
    const decoded = decodeURIComponent(text);
    if (/[\u0000-\u001f\u007f]/.test(decoded)) throw urlError(url, 'control characters after percent-decoding');
    return decoded;
  } catch (e) {
    if (e instanceof SubrunError) throw e;
    throw urlError(url, 'bad percent-encoding');
  }
}

/** The canonical URL of an address (SPEC §9.2): what `Transport.url` and `Listener.url` show. */
export function formatTransportUrl(address: TransportAddress): string {
  const hostPart = (host: string) => (host.includes(':') ? `[${host}]` : host);
  switch (address.kind) {
    case 'tcp':
      return `tcp://${hostPart(address.host)}:${address.port}`;
    case 'unix':
      return `unix:${address.path}`;
    case 'ws':
      return `${address.secure ? 'wss' : 'ws'}://${hostPart(address.host)}:${address.port}${address.path}`;
    case 'ssh':
      return `ssh://${address.user === undefined ? '' : encodeURIComponent(address.user) + '@'}${hostPart(address.host)}${address.port === undefined ? '' : ':' + address.port}/${encodeURIComponent(address.command)}`;
  }
}
