import { SubrunError } from '../../core/errors.js';
import { runScenario, type KitOptions, type KitPeer, type ScenarioResult } from './engine.js';
import type { Scenario } from './scenario.js';

/** A fresh connection for one scenario; `dispose` ends it (and the server it started). */
export interface ConnectedPeer extends KitPeer {
  /** Ends the connection and the server; resolves with what the transport learned (stderr tail). */
  dispose(): Promise<{ stderrTail?: string }>;
}

export type Connector = (scenario: Scenario) => Promise<ConnectedPeer>;

export interface KitRunOptions extends KitOptions {
  /** Scenarios run at once, each against its own server. @default 1 */
  concurrency?: number;
}

export interface ScenarioReport extends ScenarioResult {
  stderrTail?: string;
}

export interface KitReport {
  passed: boolean;
  counts: { pass: number; fail: number; skip: number };
  scenarios: ScenarioReport[];
}

/**
 * Runs every scenario against a fresh server (SPEC §11.1). A connector that throws
 * (the server cannot be started or reached) makes the whole run reject with
 * ERR_CONFORMANCE_START; anything the server does is a clause result.
 */
export async function runKit(scenarios: Scenario[], connect: Connector, options: KitRunOptions = {}): Promise<KitReport> {
  const concurrency = options.concurrency ?? 1;
  const results: ScenarioReport[] = new Array(scenarios.length);
  let next = 0;
  let startError: unknown;
  const stop = new AbortController();
  const signal = options.signal === undefined ? stop.signal : AbortSignal.any([options.signal, stop.signal]);
  const worker = async (): Promise<void> => {
    while (next < scenarios.length && startError === undefined) {
      const i = next++;
      const scenario = scenarios[i]!;
      let peer: ConnectedPeer;
      try {
        peer = await connect(scenario);
      } catch (error) {
        startError ??= error;
        stop.abort();
        return;
      }
      try {
        const result: ScenarioReport = await runScenario(scenario, peer, { ...options, signal });
        const { stderrTail } = await peer.dispose();
        if (stderrTail !== undefined && stderrTail !== '') result.stderrTail = stderrTail;
        results[i] = result;
      } catch (error) {
        await peer.dispose();
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, scenarios.length)) }, worker));
  if (startError !== undefined) {
    if (startError instanceof SubrunError && startError.code === 'ERR_CONFORMANCE_START') throw startError;
    throw new SubrunError('ERR_CONFORMANCE_START', `could not start or reach the server: ${(startError as Error)?.message ?? String(startError)}`, {
      cause: startError,
    });
  }
  const counts = { pass: 0, fail: 0, skip: 0 };
  for (const r of results) for (const c of r.clauses) counts[c.status]++;
  return { passed: counts.fail === 0, counts, scenarios: results };
}
