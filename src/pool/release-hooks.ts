import { spawn } from 'node:child_process';

/**
 * Per-type release hooks (SPEC §12.6): a shell command that resets or health-checks a
 * resource before it is granted again. Exit 0 frees it; anything else (or a timeout)
 * quarantines it.
 */

export interface ReleaseHook {
  /** Shell command; gets SUBRUN_RESOURCE_ID, _TYPE, _VALUE and SUBRUN_RESOURCE_ATTR_<NAME>. */
  release: string;
  /** @default 60000 */
  timeoutMs?: number;
}

export interface HookResult {
  ok: boolean;
  detail: string;
}

export function runReleaseHook(
  hook: ReleaseHook,
  resource: { id: string; type: string; value: string; attrs: Record<string, string> },
  env: Record<string, string | undefined>,
): Promise<HookResult> {
  const childEnv: Record<string, string | undefined> = { ...env, SUBRUN_RESOURCE_ID: resource.id, SUBRUN_RESOURCE_TYPE: resource.type, SUBRUN_RESOURCE_VALUE: resource.value };
  for (const [k, v] of Object.entries(resource.attrs)) childEnv[`SUBRUN_RESOURCE_ATTR_${k.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`] = v;
  return new Promise((resolve) => {
    let output = '';
    let settled = false;
    const done = (r: HookResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const child = spawn('/bin/sh', ['-c', hook.release], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (c: Buffer) => {
      if (output.length < 4096) output += c.toString('utf8');
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timeoutMs = hook.timeoutMs ?? 60_000;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      done({ ok: false, detail: `release hook timed out after ${timeoutMs} ms` });
    }, timeoutMs);
    child.on('error', (e) => done({ ok: false, detail: `release hook failed to start: ${e.message}` }));
    child.on('close', (code, signal) => {
      const tail = output.trim().split('\n').slice(-3).join(' | ').slice(0, 500);
      done(code === 0 ? { ok: true, detail: 'ok' } : { ok: false, detail: `release hook exited ${signal ?? code}${tail ? ': ' + tail : ''}` });
    });
  });
}
