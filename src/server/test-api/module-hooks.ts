/**
 * ESM loader hooks registered inside each test worker (module.register). They
 * (1) stamp every file the worker loads (mtime and size, taken before the file is
 * read), so the main thread can tell when a worker's code went stale, and (2) map
 * `node:test` to subrun's test API so unmodified node:test files run in the server.
 */
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { MessagePort } from 'node:worker_threads';
import type { ModuleStamp } from './worker-protocol.js';

interface HooksData {
  port: MessagePort;
  nodeTestUrl: string | undefined;
  watchNodeModules: boolean;
}

let data: HooksData | undefined;

export function initialize(init: HooksData): void {
  data = init;
}

interface ResolveContext {
  parentURL?: string;
}
type NextResolve = (specifier: string, context: ResolveContext) => Promise<{ url: string }>;
type NextLoad = (url: string, context: unknown) => Promise<unknown>;

export async function resolve(specifier: string, context: ResolveContext, next: NextResolve): Promise<{ url: string; shortCircuit?: boolean }> {
  const target = data?.nodeTestUrl;
  // The compat module itself re-exports node's `mock`, so its own import is left alone.
  if (target !== undefined && specifier === 'node:test' && context.parentURL !== target) return { url: target, shortCircuit: true };
  return next(specifier, context);
}

export async function load(url: string, context: unknown, next: NextLoad): Promise<unknown> {
  if (data !== undefined && url.startsWith('file:') && (data.watchNodeModules || !url.includes('/node_modules/'))) {
    stamp(data.port, url);
  }
  return next(url, context);
}

function stamp(port: MessagePort, url: string): void {
  try {
    const path = fileURLToPath(url);
    const st = statSync(path, { bigint: true, throwIfNoEntry: false });
    if (st === undefined) return;
    const message: ModuleStamp = { path, mtimeNs: String(st.mtimeNs), size: Number(st.size) };
    port.postMessage(message);
  } catch {
    // A URL we cannot stat cannot go stale either; loading it is not our business.
  }
}
