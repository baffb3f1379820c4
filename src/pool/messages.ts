import { poolError } from './errors.js';
import type { GrantedResource, LeaseView, Need, ResourceSpec } from './types.js';

/**
 * Validation of every message a peer sends (SPEC §12.4). Pure: takes text, returns a
 * typed message or throws a coded SubrunError that the server turns into a reply.
 */

export const LIMITS = {
  /** Largest WebSocket message or HTTP body accepted, in bytes. */
  maxMessageBytes: 64 * 1024,
  maxNeeds: 32,
  maxCount: 1000,
  maxAttrs: 32,
  maxName: 128,
  maxValue: 512,
  maxRequestId: 128,
} as const;

export type ClientMessage =
  | { op: 'hello'; client: string; graceMs: number; resume: { session: string; token: string } | null; protocol: number }
  | { op: 'acquire'; id: string; needs: Need[]; quiet: boolean; release: string | null }
  | { op: 'cancel'; id: string }
  | { op: 'release'; lease: string }
  | { op: 'verify'; lease: string; fence: number; resources: string[] }
  | { op: 'ping' };

const NAME_RE = /^[A-Za-z0-9_.-]+$/;

function bad(message: string): never {
  throw poolError('ERR_POOL_BAD_REQUEST', message);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(obj: Record<string, unknown>, key: string, max: number, optional = false): string {
  const v = obj[key];
  if (v === undefined && optional) return '';
  if (typeof v !== 'string' || v.length === 0) bad(`\`${key}\` must be a non-empty string`);
  if (v.length > max) bad(`\`${key}\` is longer than ${max} characters`);
  return v;
}

export function parseName(what: string, v: unknown): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > LIMITS.maxName || !NAME_RE.test(v)) {
    bad(`${what} must be 1-${LIMITS.maxName} characters of [A-Za-z0-9_.-]`);
  }
  return v;
}

export function parseAttrs(v: unknown): Record<string, string> {
  if (v === undefined) return {};
  if (!isObject(v)) bad('`attrs` must be an object of strings');
  const keys = Object.keys(v);
  if (keys.length > LIMITS.maxAttrs) bad(`\`attrs\` has more than ${LIMITS.maxAttrs} entries`);
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const k of keys) {
    parseName('an attribute name', k);
    const val = v[k];
    if (typeof val !== 'string' || val.length > LIMITS.maxValue) bad(`attribute \`${k}\` must be a string of at most ${LIMITS.maxValue} characters`);
    out[k] = val;
  }
  return { ...out };
}

export function parseNeeds(v: unknown): Need[] {
  if (!Array.isArray(v) || v.length === 0) bad('`needs` must be a non-empty array');
  if (v.length > LIMITS.maxNeeds) bad(`\`needs\` has more than ${LIMITS.maxNeeds} entries`);
  return v.map((n: unknown) => {
    if (!isObject(n)) bad('each need must be an object {type, count, attrs}');
    const count = n.count === undefined ? 1 : n.count;
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > LIMITS.maxCount) {
      bad(`\`count\` must be an integer in [1, ${LIMITS.maxCount}]`);
    }
    return { type: parseName('`type`', n.type), count, attrs: parseAttrs(n.attrs) };
  });
}

export function parseResourceSpec(v: unknown): ResourceSpec {
  if (!isObject(v)) bad('a resource must be an object {type, value, attrs}');
  const value = str(v, 'value', LIMITS.maxValue);
  return { type: parseName('`type`', v.type), value, attrs: parseAttrs(v.attrs) };
}

/** Parse one client message; the caller has already checked the byte size. */
export function parseClientMessage(text: string): ClientMessage {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    bad('message is not valid JSON');
  }
  if (!isObject(raw)) bad('message must be a JSON object');
  switch (raw.op) {
    case 'hello': {
      const client = raw.client === undefined ? 'anonymous' : str(raw, 'client', LIMITS.maxName);
      const graceMs = raw.graceMs === undefined ? 0 : raw.graceMs;
      if (typeof graceMs !== 'number' || !Number.isInteger(graceMs) || graceMs < 0 || graceMs > 24 * 3600_000) {
        bad('`graceMs` must be an integer number of milliseconds >= 0');
      }
      let resume: { session: string; token: string } | null = null;
      if (raw.resume !== undefined && raw.resume !== null) {
        if (!isObject(raw.resume)) bad('`resume` must be {session, token}');
        resume = { session: str(raw.resume, 'session', LIMITS.maxRequestId), token: str(raw.resume, 'token', LIMITS.maxRequestId) };
      }
      // SPEC §12.4.6: the protocol the client speaks; 1 when it does not say.
      const protocol = raw.protocol === undefined || raw.protocol === null ? 1 : raw.protocol;
      if (typeof protocol !== 'number' || !Number.isSafeInteger(protocol) || protocol < 1) bad('`protocol` must be an integer >= 1');
      return { op: 'hello', client, graceMs, resume, protocol };
    }
    case 'acquire': {
      // SPEC §12.4.4: no `queued` reply for a quiet request.
      const quiet = raw.quiet === undefined ? false : raw.quiet;
      if (typeof quiet !== 'boolean') bad('`quiet` must be a boolean');
      // SPEC §12.4.5: a lease released by this very message.
      const release = raw.release === undefined || raw.release === null ? null : str(raw, 'release', LIMITS.maxRequestId);
      return { op: 'acquire', id: str(raw, 'id', LIMITS.maxRequestId), needs: parseNeeds(raw.needs), quiet, release };
    }
    case 'cancel':
      return { op: 'cancel', id: str(raw, 'id', LIMITS.maxRequestId) };
    case 'release':
      return { op: 'release', lease: str(raw, 'lease', LIMITS.maxRequestId) };
    case 'verify': {
      const fence = raw.fence;
      if (typeof fence !== 'number' || !Number.isSafeInteger(fence) || fence < 0) bad('`fence` must be a non-negative integer');
      const resources = raw.resources === undefined ? [] : raw.resources;
      if (!Array.isArray(resources) || resources.length > LIMITS.maxCount || !resources.every((r) => typeof r === 'string' && r.length <= LIMITS.maxName + LIMITS.maxValue + 1)) {
        bad('`resources` must be an array of resource ids');
      }
      return { op: 'verify', lease: str(raw, 'lease', LIMITS.maxRequestId), fence, resources: resources as string[] };
    }
    case 'ping':
      return { op: 'ping' };
    default:
      bad(`unknown op ${JSON.stringify(String(raw.op)).slice(0, 40)}`);
  }
}

const q = JSON.stringify;

/**
 * The `granted` message (SPEC §12.4), byte for byte what `JSON.stringify({op, id, lease})`
 * gives, written field by field: it is sent once per grant, and the generic walk over the
 * nested lease costs about twice as much.
 */
export function encodeGranted(id: string, l: LeaseView): string {
  let resources = '';
  for (const r of l.resources) {
    resources += `${resources === '' ? '' : ','}{"id":${q(r.id)},"type":${q(r.type)},"value":${q(r.value)},"attrs":${q(r.attrs)}}`;
  }
  return `{"op":"granted","id":${q(id)},"lease":{"id":${q(l.id)},"session":${q(l.session)},"client":${q(l.client)},"requestId":${q(l.requestId)},"fence":${q(l.fence)},"resources":[${resources}],"grantedAt":${q(l.grantedAt)}}}`;
}

/**
 * The short `granted` for a client that said protocol 2 or more (SPEC §12.4.6):
 * `{"op":"granted","id","fence","resources","grantedAt"}`, each resource its id, or
 * `[id, attrs]` when it has attributes. The lease id (`L<fence>`), the session, the client
 * name and the request id are the client's own or follow from the rest. A lease of any
 * other shape is sent in full, which such a client also accepts.
 */
export function encodeGrantedShort(id: string, l: LeaseView): string {
  if (l.id !== `L${l.fence}` || l.requestId !== id) return encodeGranted(id, l);
  let resources = '';
  for (const r of l.resources) {
    if (r.type.includes(':') || r.id !== `${r.type}:${r.value}`) return encodeGranted(id, l);
    const item = hasKeys(r.attrs) ? `[${q(r.id)},${q(r.attrs)}]` : q(r.id);
    resources += resources === '' ? item : `,${item}`;
  }
  return `{"op":"granted","id":${q(id)},"fence":${q(l.fence)},"resources":[${resources}],"grantedAt":${q(l.grantedAt)}}`;
}

/**
 * The lease a short `granted` (SPEC §12.4.6) stands for, given what the client knows; null
 * when the message is not one (a full `granted` or garbage: the caller decides).
 */
export function leaseOfShortGranted(msg: Record<string, unknown>, session: string, client: string): LeaseView | null {
  const { id, fence, resources, grantedAt } = msg;
  if (typeof id !== 'string' || typeof fence !== 'number' || typeof grantedAt !== 'number' || !Array.isArray(resources)) return null;
  const out: GrantedResource[] = [];
  for (const item of resources as unknown[]) {
    const [rid, attrs] = typeof item === 'string' ? [item, {}] : Array.isArray(item) ? (item as [unknown, unknown]) : [null, null];
    if (typeof rid !== 'string' || !isObject(attrs)) return null;
    const colon = rid.indexOf(':');
    if (colon <= 0) return null;
    out.push({ id: rid, type: rid.slice(0, colon), value: rid.slice(colon + 1), attrs: { ...(attrs as Record<string, string>) } });
  }
  return { id: `L${fence}`, session, client, requestId: id, fence, resources: out, grantedAt };
}

function hasKeys(o: Record<string, string>): boolean {
  for (const _ in o) return true;
  return false;
}

/**
 * The command-line form of a need (SPEC §12.3): `TYPE[=COUNT][:ATTR=VALUE[,ATTR=VALUE...]]`,
 * e.g. `port=2`, `compute:os=ubuntu`, `compute=2:os=ubuntu,arch=arm64`.
 */
export function parseNeedText(text: string): Need {
  const colon = text.indexOf(':');
  const head = colon === -1 ? text : text.slice(0, colon);
  const m = /^([A-Za-z0-9_.-]+)(?:=(\d+))?$/.exec(head);
  if (m === null) bad(`a need looks like TYPE[=COUNT][:ATTR=VALUE,...], got ${JSON.stringify(text)}`);
  const count = m[2] === undefined ? 1 : Number(m[2]);
  return parseNeeds([{ type: m[1], count, attrs: parsePairs(colon === -1 ? '' : text.slice(colon + 1), text) }])[0]!;
}

/** The command-line form of a resource (SPEC §12.2): `TYPE=VALUE[,ATTR=VALUE...]`. */
export function parseResourceText(text: string): ResourceSpec {
  const eq = text.indexOf('=');
  if (eq <= 0) bad(`a resource looks like TYPE=VALUE[,ATTR=VALUE...], got ${JSON.stringify(text)}`);
  const comma = text.indexOf(',', eq);
  const value = comma === -1 ? text.slice(eq + 1) : text.slice(eq + 1, comma);
  return parseResourceSpec({ type: text.slice(0, eq), value, attrs: parsePairs(comma === -1 ? '' : text.slice(comma + 1), text) });
}

function parsePairs(list: string, whole: string): Record<string, string> {
  const attrs: Record<string, string> = {};
  if (list === '') return attrs;
  for (const pair of list.split(',')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) bad(`expected ATTR=VALUE in ${JSON.stringify(whole)}, got ${JSON.stringify(pair)}`);
    attrs[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return parseAttrs(attrs);
}
