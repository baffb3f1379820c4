import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { poolError } from './errors.js';

/**
 * Who is calling (SPEC §12.10): bearer tokens for clients and admins, and the peer's
 * address, with X-Forwarded-For believed only from configured trusted proxies.
 */

export type Role = 'client' | 'admin';

export interface AuthOptions {
  clientTokens: readonly string[];
  adminTokens: readonly string[];
  /** Accept calls without a token (only allowed when bound to loopback). */
  insecureLocal: boolean;
  /** Addresses whose X-Forwarded-For header is believed. */
  trustedProxies: readonly string[];
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function sameSecret(a: string, b: string): boolean {
  // Compare fixed-length digests so neither length nor content leaks through timing.
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\./.test(h) || h === '::ffff:127.0.0.1';
}

export function normalizeAddress(addr: string | undefined): string {
  if (addr === undefined) return 'unknown';
  return addr.startsWith('::ffff:') && isIP(addr.slice(7)) === 4 ? addr.slice(7) : addr;
}

export class Authenticator {
  readonly #opts: AuthOptions;
  readonly #trusted: Set<string>;

  constructor(opts: AuthOptions) {
    this.#opts = opts;
    this.#trusted = new Set(opts.trustedProxies.map((a) => normalizeAddress(a)));
  }

  /** The role a request's bearer token grants; throws 401 (no/wrong token) as a coded error. */
  authenticate(req: IncomingMessage): Role {
    const header = req.headers.authorization;
    if (header === undefined || header === '') {
      if (this.#opts.insecureLocal) return 'admin';
      throw poolError('ERR_POOL_UNAUTHORIZED', 'a bearer token is required (Authorization: Bearer TOKEN)');
    }
    const m = /^Bearer\s+(\S{1,512})\s*$/i.exec(header);
    if (m === null) throw poolError('ERR_POOL_UNAUTHORIZED', 'malformed Authorization header; expected "Bearer TOKEN"');
    const token = m[1]!;
    let role: Role | null = null;
    for (const t of this.#opts.adminTokens) if (sameSecret(t, token)) role = 'admin';
    if (role === null) for (const t of this.#opts.clientTokens) if (sameSecret(t, token)) role = 'client';
    if (role === null) throw poolError('ERR_POOL_UNAUTHORIZED', 'unknown bearer token');
    return role;
  }

  requireAdmin(role: Role): void {
    if (role !== 'admin') throw poolError('ERR_POOL_FORBIDDEN', 'this call needs the admin token');
  }

  /**
   * The caller's address. X-Forwarded-For is trivially spoofed, so it is read only when
   * the direct peer is a trusted proxy, and then from the right: the first address not
   * itself a trusted proxy is the client.
   */
  remoteAddress(req: IncomingMessage): string {
    const peer = normalizeAddress(req.socket.remoteAddress);
    const xff = req.headers['x-forwarded-for'];
    if (!this.#trusted.has(peer) || xff === undefined) return peer;
    const hops = (Array.isArray(xff) ? xff.join(',') : xff).split(',').map((s) => normalizeAddress(s.trim())).filter((s) => s !== '');
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i]!;
      if (isIP(hop) === 0) return peer;
      if (!this.#trusted.has(hop)) return hop;
    }
    return peer;
  }
}
