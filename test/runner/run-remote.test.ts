import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runSubrun } from '../helpers/cli.js';
import { BIN } from '../helpers/paths.js';
import { startSshd, sshdUnavailable } from '../helpers/sshd.js';
import { StreamDecoder } from '../../src/subunit/decoder.js';
import { makeJsProject } from './fixtures/js/suite.js';
import { lastResults, statsOfLast } from './fixtures/js/check.js';

// A run across two "hosts": two real sshd instances on loopback, each starting
// `subrun serve` through the system ssh client (ssh:// server entries).
t.test('subrun run with two ssh:// servers', async (t) => {
  const why = sshdUnavailable();
  if (why !== undefined) throw new Error(`this test needs a real sshd: ${why}`);
  const [a, b] = await Promise.all([startSshd(), startSshd()]);
  t.teardown(() => Promise.all([a.stop(), b.stop()]));
  const files: Record<string, string> = {};
  for (let f = 0; f < 4; f++) {
    files[`f${f}.test.js`] = Array.from({ length: 5 }, (_, i) => `test('t${i}', async () => { await new Promise((r) => setTimeout(r, 20)); });`).join('\n') + (f === 3 ? `\ntest('remote failure', () => { assert.fail('from afar'); });` : '');
  }
  const project = makeJsProject(files);
  t.teardown(() => project.remove());
  // One ssh configuration that reaches both servers: both host keys, both client keys.
  const knownHosts = path.join(project.dir, 'known_hosts');
  writeFileSync(knownHosts, readFileSync(a.knownHostsFile, 'utf8') + readFileSync(b.knownHostsFile, 'utf8'));
  const sshArgs = ['-F', '/dev/null', '-i', a.identityFile, '-i', b.identityFile, '-o', 'IdentitiesOnly=yes', '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'StrictHostKeyChecking=yes'];
  const config = project.serverConfig({
    testServerCommand: `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} serve '*.test.js'`,
    servers: [`ssh://${a.user}@${a.host}:${a.port}${project.dir}`, `ssh://${b.user}@${b.host}:${b.port}${project.dir}`],
  });
  const r = await runSubrun(['run', '--subunit', '--config', config], { cwd: project.dir, env: { ...process.env, SUBRUN_SSH_ARGS: sshArgs.join(' ') } });
  t.equal(r.code, 1, r.stderr);
  const workers = new Set<string>();
  const d = new StreamDecoder({ packet: (e) => e.tags?.filter((x) => x.startsWith('worker-')).forEach((x) => workers.add(x)), nonSubunit: () => {}, error: () => {} });
  d.push(r.stdoutBytes);
  d.end();
  t.same([...workers].sort(), ['worker-0', 'worker-1'], 'both remote servers ran tests');
  const results = lastResults(project.dir);
  t.equal(results.size, 21);
  t.equal(results.get('f3.test.js > remote failure'), 'fail');
  t.equal([...results.values()].filter((s) => s === 'success').length, 20);
  const stats = await statsOfLast(project.dir);
  t.equal(stats.total, 21, stats.stdout);
});
