import { SubrunError } from '../../core/errors.js';
import { OPERATORS } from './matcher.js';

/**
 * Conformance scenarios as data (SPEC §11): the JSON files in protocol/conformance/.
 * This module gives them types and checks them, so that a broken scenario file is a
 * coded error naming the file and step rather than a confusing kit run.
 */

/** What a step sends (SPEC §11.3). Exactly one member. */
export interface SendSpec {
  /** An RPC message, JSON-encoded in one packet with EOF (SPEC §4.2). */
  message?: Record<string, unknown>;
  /** An RPC packet whose attachment is this text (e.g. JSON that does not parse). */
  rpcText?: string;
  /** An RPC message split across `parts` packets, EOF on the last only (SPEC §4.3). */
  split?: { message: Record<string, unknown>; parts: number };
  /** An RPC message whose packet has its CRC inverted: a corrupt packet. */
  corrupt?: Record<string, unknown>;
  /** Raw bytes, as hexadecimal. */
  hex?: string;
  /** Raw bytes, as UTF-8 text. */
  text?: string;
  /** End the kit's side of the channel (EOF on the server's input). */
  eof?: true;
}

/** Conditions under which a step applies (SPEC §11.5). */
export interface When {
  /** The negotiated version is one of these. */
  versions?: number[];
  /** The server's Hello declares these capability members with these values. */
  capabilities?: Record<string, unknown>;
  /** true: applies only when the Hellos have no common version; false: only when they do. */
  noCommonVersion?: boolean;
}

interface StepBase {
  when?: When;
}

/** Every step but `send` and `wait` is a clause: it passes or fails, with a SPEC reference. */
export interface ClauseInfo {
  clause: string;
  spec: string;
  title: string;
}

export type Pattern =
  | { message: Record<string, unknown> }
  | { packet: Record<string, unknown> }
  | { output: Record<string, unknown> }
  | { close: Record<string, unknown> }
  | { exit: Record<string, unknown> };

export interface SendStep extends StepBase {
  send: SendSpec;
}
export interface WaitStep extends StepBase {
  wait: number;
}
export interface ExpectStep extends StepBase, ClauseInfo {
  expect: Pattern;
  /** Milliseconds from the step's start. @default 5000 */
  within?: number;
  /** Names the matched item for later ordering clauses. */
  as?: string;
  /** Binds variables to members of the matched item (`{"test": "testId"}`). */
  capture?: Record<string, string>;
}
export interface OrderStep extends StepBase, ClauseInfo {
  /** Some matching item arrived before the labelled one. */
  some?: Pattern;
  /** No matching item arrived before (or after, with `after`) the labelled one. */
  none?: Pattern;
  before?: string;
  after?: string;
  settleMs?: number;
  capture?: Record<string, string>;
}
export interface CountStep extends StepBase, ClauseInfo {
  count: Pattern;
  exactly: number;
  /** Wait this long first, so that a late duplicate is seen. @default 0 */
  settleMs?: number;
}
export interface AssertStep extends StepBase, ClauseInfo {
  /** `hello-range`: the labelled server Hello has positive integer min <= max. `common-version`: its range meets ours. */
  assert: 'hello-range' | 'common-version';
  label: string;
}

export type Step = SendStep | WaitStep | ExpectStep | OrderStep | CountStep | AssertStep;

export interface Scenario {
  name: string;
  title: string;
  spec: string;
  steps: Step[];
}

export const PATTERN_KINDS = ['message', 'packet', 'output', 'close', 'exit'] as const;
const SEND_KINDS = ['message', 'split', 'rpcText', 'corrupt', 'hex', 'text', 'eof'];
const ASSERTS = ['hello-range', 'common-version'];
const NAME = /^[a-z0-9][a-z0-9-]*$/;

/** Check a parsed scenario file; `source` names it in errors. */
export function parseScenario(value: unknown, source: string): Scenario {
  const fail = (where: string, problem: string): never => {
    throw new SubrunError('ERR_CONFORMANCE_SCENARIO', `${source}: ${where}: ${problem}`, { details: { source, where } });
  };
  if (!isObject(value)) fail('top level', 'a scenario must be a JSON object');
  const s = value as Record<string, unknown>;
  if (typeof s.name !== 'string' || !NAME.test(s.name)) fail('name', 'must be a lower-case name like "list-done"');
  if (typeof s.title !== 'string') fail('title', 'must be a string');
  if (typeof s.spec !== 'string') fail('spec', 'must be a SPEC section like "§6.2"');
  if (!Array.isArray(s.steps) || s.steps.length === 0) fail('steps', 'must be a non-empty array');
  const labels = new Set<string>();
  const clauses = new Set<string>();
  (s.steps as unknown[]).forEach((raw, i) => {
    const where = `step ${i + 1}`;
    if (!isObject(raw)) fail(where, 'must be an object');
    const step = raw as Record<string, unknown>;
    if (step.when !== undefined) checkWhen(step.when, (p) => fail(where, p));
    const kind = ['send', 'wait', 'expect', 'some', 'none', 'count', 'assert'].filter((k) => k in step);
    if (kind.length !== 1) fail(where, `needs exactly one of send, wait, expect, some, none, count, assert (found ${kind.join(', ') || 'none'})`);
    const k = kind[0]!;
    if (k === 'send') {
      const send = step.send;
      if (!isObject(send)) return fail(where, '`send` must be an object');
      const kinds = Object.keys(send);
      if (kinds.length !== 1 || !SEND_KINDS.includes(kinds[0]!)) fail(where, `\`send\` needs exactly one of ${SEND_KINDS.join(', ')}`);
      if (send.split !== undefined) {
        const split = send.split as Record<string, unknown>;
        if (!isObject(split) || !isObject(split.message) || !isCount(split.parts) || split.parts < 2) fail(where, '`send.split` needs a `message` and `parts` >= 2');
      }
      if (send.hex !== undefined && (typeof send.hex !== 'string' || !/^([0-9a-fA-F]{2})*$/.test(send.hex))) fail(where, '`send.hex` must be hexadecimal');
      return;
    }
    if (k === 'wait') {
      if (!isCount(step.wait)) fail(where, '`wait` must be a number of milliseconds');
      return;
    }
    if (typeof step.clause !== 'string' || !NAME.test(step.clause)) fail(where, 'a clause needs a lower-case `clause` id');
    if (clauses.has(step.clause as string)) fail(where, `clause id ${JSON.stringify(step.clause)} is used twice`);
    clauses.add(step.clause as string);
    if (typeof step.spec !== 'string' || !step.spec.startsWith('§')) fail(where, 'a clause needs `spec`, a SPEC reference like "§6.4"');
    if (typeof step.title !== 'string') fail(where, 'a clause needs a `title`');
    if (step.capture !== undefined && !(isObject(step.capture) && Object.values(step.capture).every((v) => typeof v === 'string'))) {
      fail(where, '`capture` must map variable names to member paths');
    }
    const useLabel = (name: string, label: unknown): void => {
      if (typeof label !== 'string' || !labels.has(label)) fail(where, `\`${name}\` must name an earlier expect's \`as\` label`);
    };
    switch (k) {
      case 'expect':
        checkPattern(step.expect, (p) => fail(where, p));
        if (step.within !== undefined && !isCount(step.within)) fail(where, '`within` must be milliseconds');
        if (step.as !== undefined) {
          if (typeof step.as !== 'string') fail(where, '`as` must be a string');
          labels.add(step.as as string);
        }
        return;
      case 'some':
      case 'none':
        checkPattern(step[k], (p) => fail(where, p));
        if ((step.before === undefined) === (step.after === undefined)) {
          if (!(k === 'none' && step.before === undefined && step.after === undefined)) fail(where, 'needs exactly one of `before` or `after`');
        }
        if (k === 'some' && step.after !== undefined) fail(where, '`some` takes `before` only');
        if (step.before !== undefined) useLabel('before', step.before);
        if (step.after !== undefined) useLabel('after', step.after);
        if (step.settleMs !== undefined && !isCount(step.settleMs)) fail(where, '`settleMs` must be milliseconds');
        return;
      case 'count':
        checkPattern(step.count, (p) => fail(where, p));
        if (!isCount(step.exactly)) fail(where, '`exactly` must be a non-negative integer');
        if (step.settleMs !== undefined && !isCount(step.settleMs)) fail(where, '`settleMs` must be milliseconds');
        return;
      case 'assert':
        if (!ASSERTS.includes(step.assert as string)) fail(where, `\`assert\` must be one of ${ASSERTS.join(', ')}`);
        useLabel('label', step.label);
        return;
    }
  });
  return value as unknown as Scenario;
}

function checkWhen(when: unknown, fail: (p: string) => never): void {
  if (!isObject(when)) fail('`when` must be an object');
  const w = when as Record<string, unknown>;
  for (const key of Object.keys(w)) if (!['versions', 'capabilities', 'noCommonVersion'].includes(key)) fail(`unknown \`when\` member ${key}`);
  if (w.versions !== undefined && !(Array.isArray(w.versions) && w.versions.every((v) => Number.isInteger(v) && v > 0))) fail('`when.versions` must be an array of versions');
  if (w.capabilities !== undefined && !isObject(w.capabilities)) fail('`when.capabilities` must be an object');
  if (w.noCommonVersion !== undefined && typeof w.noCommonVersion !== 'boolean') fail('`when.noCommonVersion` must be a boolean');
}

function checkPattern(p: unknown, fail: (p: string) => never): void {
  if (!isObject(p)) fail('a pattern must be an object');
  const keys = Object.keys(p as object);
  if (keys.length !== 1 || !(PATTERN_KINDS as readonly string[]).includes(keys[0]!)) fail(`a pattern needs exactly one of ${PATTERN_KINDS.join(', ')}`);
  const body = (p as Record<string, unknown>)[keys[0]!];
  if (!isObject(body)) fail(`the ${keys[0]} pattern must be an object`);
  checkOperators(body, fail);
}

function checkOperators(v: unknown, fail: (p: string) => never): void {
  if (Array.isArray(v)) v.forEach((x) => checkOperators(x, fail));
  else if (isObject(v)) {
    for (const [k, x] of Object.entries(v)) {
      if (k.startsWith('$') && !OPERATORS.includes(k)) fail(`unknown pattern operator ${k}`);
      checkOperators(x, fail);
    }
  }
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
