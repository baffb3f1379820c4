import t from 'tap';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PoolClient } from '../../src/pool/client.js';
import { CLIENT_TOKEN, startPool, tempDir } from './fixtures/pool-env.js';

t.test('with a certificate the pool serves https and wss only', async (t) => {
  const dir = tempDir(t);
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const server = await startPool(t, { resources: [{ type: 'port', value: '7000' }], tls: { cert: readFileSync(cert), key: readFileSync(key) } });
  t.match(server.url, /^https:\/\//);
  t.match(server.wsUrl, /^wss:\/\//);
  await t.rejects(PoolClient.connect(server.wsUrl, { token: CLIENT_TOKEN }), { code: 'ERR_POOL_CONNECT' }, 'an untrusted certificate is refused');
  const client = await PoolClient.connect(server.wsUrl, { token: CLIENT_TOKEN, ca: readFileSync(cert) });
  t.teardown(() => client.destroy());
  const lease = await client.acquire({ port: 1 });
  t.equal(lease.value('port'), '7000');
  await t.rejects(PoolClient.connect(server.wsUrl.replace('wss:', 'ws:'), { token: CLIENT_TOKEN, connectTimeoutMs: 2000 }), { code: 'ERR_POOL_CONNECT' }, 'plain ws is not served');
});
