import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './paths.js';

/** Debian's interpreter: the one that can import python-subunit (the python3 first on PATH may not). */
export const PYTHON = '/usr/bin/python3';

/**
 * Fails (never skips) when python-subunit is missing: the interop tests are the
 * proof that we agree with the reference, so CI must have it (scripts/setup.sh).
 */
export function requirePythonSubunit(): void {
  const r = spawnSync(PYTHON, ['-c', 'import subunit.v2, testtools'], { encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(`python-subunit is required: ${PYTHON} cannot import subunit (run scripts/setup.sh): ${r.stderr ?? r.error}`);
  }
}

/** Runs a script of scripts/ with Debian's python on `input`; throws on a non-zero exit. */
export function runPythonScript(script: string, input: Uint8Array, args: string[] = []): Buffer {
  const r = spawnSync(PYTHON, ['-B', path.join(ROOT, 'scripts', script), ...args], { input, maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`${script} exited ${r.status}: ${r.stderr?.toString()}`);
  return r.stdout;
}

/** Runs a command with the environment python-subunit's tools expect; returns status and output. */
export function runTool(cmd: string, args: string[], input: Uint8Array): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { input, encoding: 'utf8', maxBuffer: 1 << 30, env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
