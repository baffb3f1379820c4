/**
 * RPC message types and their validation (SPEC §5-§7). Validation is hand-written
 * for speed on the dispatch path; protocol/schemas/ holds the same rules as JSON
 * Schema for other languages, and a test checks that the two agree.
 */

/** The protocol versions this implementation speaks (SPEC §5.1). */
export const PROTOCOL_MIN = 1;
export const PROTOCOL_MAX = 2;

export interface Capabilities {
  encodings?: string[];
  heartbeat?: boolean;
  cancel?: boolean;
  concurrentRuns?: number;
  resources?: boolean;
  protocolFd?: boolean;
}

/** One resource need of a Run (SPEC §7.8): a count, or a count with attribute matches. */
export type ResourceNeed = number | { count: number; match?: Record<string, string> };

export interface HelloMessage {
  msg: 'Hello';
  min: number;
  max: number;
  capabilities?: Capabilities;
  agent?: string;
  heartbeatMs?: number;
}
export interface GoodbyeMessage {
  msg: 'Goodbye';
}
export interface ListMessage {
  msg: 'List';
  nonce: string;
  tests?: string[];
  route?: string;
}
export interface RunMessage {
  msg: 'Run';
  nonce: string;
  tests?: string[];
  route?: string;
  timeoutMs?: number;
  resources?: Record<string, ResourceNeed>;
}
export interface DoneMessage {
  msg: 'Done';
  nonce: string;
  cancelled?: boolean;
  ran?: number;
  unknown?: string[];
}
export interface ErrorMessage {
  msg: 'Error';
  nonce?: string;
  code: string;
  message: string;
  details?: Record<string, unknown>;
}
export interface CancelMessage {
  msg: 'Cancel';
  nonce: string;
}
export interface RunningTest {
  nonce: string;
  test: string;
  elapsedMs: number;
}
export interface HeartbeatMessage {
  msg: 'Heartbeat';
  nonce?: string;
  running?: RunningTest[];
}

export type RpcMessage =
  | HelloMessage
  | GoodbyeMessage
  | ListMessage
  | RunMessage
  | DoneMessage
  | ErrorMessage
  | CancelMessage
  | HeartbeatMessage;

export type MessageType = RpcMessage['msg'];

/** The message types each version defines (SPEC §6, §7). */
export const MESSAGES_BY_VERSION: Readonly<Record<number, ReadonlySet<string>>> = {
  1: new Set(['Hello', 'Goodbye', 'List', 'Run', 'Done']),
  2: new Set(['Hello', 'Goodbye', 'List', 'Run', 'Done', 'Error', 'Cancel', 'Heartbeat']),
};

export type Validation =
  | { ok: true; message: RpcMessage }
  | { ok: false; code: 'ERR_BAD_MESSAGE' | 'ERR_UNKNOWN_MESSAGE'; message: string; nonce?: string };

const V2_NONCE = /^[A-Za-z0-9._:-]{1,256}$/;
const ROUTE = /^[^/\0]{1,128}$/;

/**
 * Check a decoded value against the message rules of `version` (SPEC §4.5-§7).
 * Unknown members are ignored (§4.5); for an unknown `msg` the result names it.
 */
export function validateMessage(value: unknown, version: number): Validation {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return bad('a message must be a JSON object');
  }
  const m = value as Record<string, unknown>;
  const nonce = typeof m.nonce === 'string' ? m.nonce : undefined;
  if (typeof m.msg !== 'string') return bad('a message needs a string member `msg`', nonce);
  const known = MESSAGES_BY_VERSION[version] ?? MESSAGES_BY_VERSION[PROTOCOL_MAX]!;
  if (m.msg !== 'Hello' && !known.has(m.msg)) {
    return { ok: false, code: 'ERR_UNKNOWN_MESSAGE', message: `unknown message ${JSON.stringify(m.msg)} in protocol version ${version}`, ...(nonce === undefined ? {} : { nonce }) };
  }
  const problem = checkMembers(m, version);
  return problem === undefined ? { ok: true, message: m as unknown as RpcMessage } : bad(`${m.msg}: ${problem}`, nonce);
}

function bad(message: string, nonce?: string): Validation {
  return { ok: false, code: 'ERR_BAD_MESSAGE', message, ...(nonce === undefined ? {} : { nonce }) };
}

function checkMembers(m: Record<string, unknown>, version: number): string | undefined {
  switch (m.msg) {
    case 'Hello':
      if (!isPositiveInt(m.min) || !isPositiveInt(m.max)) return '`min` and `max` must be positive integers';
      if (m.min > m.max) return `\`min\` (${m.min}) must not exceed \`max\` (${m.max})`;
      if (m.capabilities !== undefined && !isPlainObject(m.capabilities)) return '`capabilities` must be an object';
      if (m.agent !== undefined && typeof m.agent !== 'string') return '`agent` must be a string';
      if (m.heartbeatMs !== undefined && !(isPositiveInt(m.heartbeatMs) && m.heartbeatMs >= 50)) return '`heartbeatMs` must be an integer >= 50';
      return undefined;
    case 'Goodbye':
      return undefined;
    case 'List':
    case 'Run': {
      const n = checkNonce(m.nonce, version);
      if (n !== undefined) return n;
      if (m.tests !== undefined && !isStringArray(m.tests)) return '`tests` must be an array of strings';
      if (version >= 2 && m.route !== undefined && (typeof m.route !== 'string' || !ROUTE.test(m.route))) {
        return '`route` must be 1 to 128 characters without "/"';
      }
      if (m.msg === 'Run' && version >= 2) {
        if (m.timeoutMs !== undefined && !isPositiveInt(m.timeoutMs)) return '`timeoutMs` must be a positive integer';
        if (m.resources !== undefined) return checkResources(m.resources);
      }
      return undefined;
    }
    case 'Done':
      if (typeof m.nonce !== 'string') return '`nonce` must be a string';
      if (m.unknown !== undefined && !isStringArray(m.unknown)) return '`unknown` must be an array of strings';
      if (m.ran !== undefined && !(Number.isInteger(m.ran) && (m.ran as number) >= 0)) return '`ran` must be a non-negative integer';
      if (m.cancelled !== undefined && typeof m.cancelled !== 'boolean') return '`cancelled` must be a boolean';
      return undefined;
    case 'Error':
      if (typeof m.code !== 'string' || typeof m.message !== 'string') return '`code` and `message` must be strings';
      if (m.nonce !== undefined && typeof m.nonce !== 'string') return '`nonce` must be a string';
      if (m.details !== undefined && !isPlainObject(m.details)) return '`details` must be an object';
      return undefined;
    case 'Cancel':
      return typeof m.nonce === 'string' ? undefined : '`nonce` must be a string';
    case 'Heartbeat':
      if (m.nonce !== undefined && typeof m.nonce !== 'string') return '`nonce` must be a string';
      if (m.running !== undefined && !Array.isArray(m.running)) return '`running` must be an array';
      return undefined;
    default:
      return 'unknown message';
  }
}

function checkNonce(nonce: unknown, version: number): string | undefined {
  if (typeof nonce !== 'string' || nonce.length === 0 || nonce.length > 256) return '`nonce` must be a string of 1 to 256 characters';
  if (version >= 2 && !V2_NONCE.test(nonce)) return '`nonce` may only use A-Z a-z 0-9 . _ : - in protocol version 2';
  return undefined;
}

function checkResources(value: unknown): string | undefined {
  if (!isPlainObject(value)) return '`resources` must be an object';
  for (const [type, need] of Object.entries(value)) {
    if (isPositiveInt(need)) continue;
    if (isPlainObject(need) && isPositiveInt(need.count)) {
      if (need.match === undefined) continue;
      if (isPlainObject(need.match) && Object.values(need.match).every((v) => typeof v === 'string')) continue;
    }
    return `\`resources.${type}\` must be a positive count or {count, match}`;
  }
  return undefined;
}

function isPositiveInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0;
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The negotiated version (SPEC §5.4), or undefined when the ranges do not meet. */
export function negotiateVersion(a: { min: number; max: number }, b: { min: number; max: number }): number | undefined {
  const v = Math.min(a.max, b.max);
  return v >= Math.max(a.min, b.min) ? v : undefined;
}

/**
 * The effective capabilities of a connection (SPEC §7.1): what both sides declare,
 * and for the server-only members (concurrentRuns, resources, protocolFd) the server's word.
 */
export function commonCapabilities(client: Capabilities | undefined, server: Capabilities | undefined): Capabilities {
  if (client === undefined || server === undefined) return { encodings: ['json'] };
  const serverEncodings = server.encodings ?? ['json'];
  const out: Capabilities = {
    encodings: (client.encodings ?? ['json']).filter((e) => serverEncodings.includes(e)),
    heartbeat: client.heartbeat === true && server.heartbeat === true,
    cancel: server.cancel === true,
    concurrentRuns: isPositiveInt(server.concurrentRuns) ? server.concurrentRuns : 1,
    resources: server.resources === true,
  };
  if (server.protocolFd === true) out.protocolFd = true;
  return out;
}
