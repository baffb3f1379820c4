/**
 * SPEC §9.5: the protocol-fd opt-in. The client offers a dedicated socketpair on this fd and
 * names it in this environment variable; a server that takes the offer writes PREAMBLE on
 * that fd before anything else on it and before any byte on its stdout.
 */
export const PROTOCOL_FD_ENV = 'SUBRUN_PROTOCOL_FD';
export const PROTOCOL_FD = 3;
export const PROTOCOL_FD_PREAMBLE: Buffer = Buffer.from('subrun-fd/1\n', 'latin1');

/**
 * The protocol fd a server should use given its environment, or undefined for plain stdio.
 * Only a decimal integer >= 3 is accepted; anything else means "not offered" (SPEC §9.5).
 */
export function protocolFdFromEnv(env: Readonly<Record<string, string | undefined>>): number | undefined {
  const text = env[PROTOCOL_FD_ENV];
  if (text === undefined || !/^\d{1,4}$/.test(text)) return undefined;
  const fd = Number(text);
  return fd >= 3 ? fd : undefined;
}
