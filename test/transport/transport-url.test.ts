import t from 'tap';
import fc from 'fast-check';
import { isSubrunError } from '../../src/core/errors.js';
import { sshArgv } from '../../src/transport/ssh-transport.js';
import { formatTransportUrl, parseTransportUrl } from '../../src/transport/transport-url.js';

t.test('the URL forms of SPEC §9.2 parse to their addresses', async (t) => {
  t.same(parseTransportUrl('tcp://127.0.0.1:4000'), { kind: 'tcp', host: '127.0.0.1', port: 4000 });
  t.same(parseTransportUrl('TCP://Example.org:1'), { kind: 'tcp', host: 'Example.org', port: 1 });
  t.same(parseTransportUrl('tcp://[::1]:80'), { kind: 'tcp', host: '::1', port: 80 });
  t.same(parseTransportUrl('tcp://127.0.0.1:0', { forListen: true }), { kind: 'tcp', host: '127.0.0.1', port: 0 });
  t.same(parseTransportUrl('unix:/run/x.sock'), { kind: 'unix', path: '/run/x.sock' });
  t.same(parseTransportUrl('unix:///run/x.sock'), { kind: 'unix', path: '/run/x.sock' });
  t.same(parseTransportUrl('unix:rel.sock'), { kind: 'unix', path: 'rel.sock' });
  t.match(parseTransportUrl('ws://localhost:8080/rpc?x=1'), { kind: 'ws', secure: false, host: 'localhost', port: 8080, path: '/rpc?x=1' });
  t.match(parseTransportUrl('wss://h.example/'), { kind: 'ws', secure: true, port: 443, path: '/' });
  t.same(parseTransportUrl('ssh://alice@build-1:2222/subrun%20serve'), { kind: 'ssh', user: 'alice', host: 'build-1', port: 2222, command: 'subrun serve' });
  t.same(parseTransportUrl('ssh://build-1/node /srv/server.js --x'), { kind: 'ssh', user: undefined, host: 'build-1', port: undefined, command: 'node /srv/server.js --x' });
  t.same(parseTransportUrl('ssh://h/a/b'), { kind: 'ssh', user: undefined, host: 'h', port: undefined, command: 'a/b' }, 'the command is everything after the first /');
});

t.test('formatTransportUrl gives canonical URLs that parse back to the same address', async (t) => {
  for (const url of ['tcp://127.0.0.1:4000', 'tcp://[::1]:9', 'unix:/tmp/a.sock', 'ws://127.0.0.1:80/x', 'wss://h:443/p', 'ssh://u@h:22/node%20s.js', 'ssh://h/c']) {
    const a = parseTransportUrl(url);
    t.equal(formatTransportUrl(a), url, url);
    t.same(parseTransportUrl(formatTransportUrl(a)), a);
  }
});

const hostile: [string, unknown, { forListen?: boolean }?][] = [
  ['empty', ''],
  ['not a string', 42],
  ['no scheme', '127.0.0.1:4000'],
  ['unknown scheme', 'http://127.0.0.1:80/'],
  ['stdio is spawned, not dialled', 'stdio:pid/1'],
  ['leading space', ' tcp://127.0.0.1:1'],
  ['trailing newline', 'tcp://127.0.0.1:1\n'],
  ['NUL', 'tcp://127.0.0.1:1\u0000'],
  ['tcp without //', 'tcp:127.0.0.1:1'],
  ['tcp without port', 'tcp://127.0.0.1'],
  ['tcp port 0 when dialling', 'tcp://127.0.0.1:0'],
  ['tcp port too large', 'tcp://127.0.0.1:65536'],
  ['tcp negative port', 'tcp://127.0.0.1:-1'],
  ['tcp port with junk', 'tcp://127.0.0.1:80x'],
  ['tcp path', 'tcp://127.0.0.1:80/path'],
  ['tcp credentials', 'tcp://u@127.0.0.1:80'],
  ['tcp empty host', 'tcp://:80'],
  ['tcp unterminated v6', 'tcp://[::1:80'],
  ['tcp bad v6', 'tcp://[zz]:80'],
  ['tcp host with a dash first', 'tcp://-h:80'],
  ['tcp huge host', `tcp://${'a'.repeat(300)}:80`],
  ['unix empty', 'unix:'],
  ['unix with a host', 'unix://host/path'],
  ['unix path too long for sun_path', `unix:/${'x'.repeat(200)}`],
  ['unix query', 'unix:/a?b'],
  ['ws without host', 'ws://'],
  ['ws fragment', 'ws://h:1/p#f'],
  ['ws credentials', 'ws://u:p@h:1/'],
  ['ws bad port', 'ws://h:99999/'],
  ['wss for listen', 'wss://127.0.0.1:0/', { forListen: true }],
  ['ssh for listen', 'ssh://h/c', { forListen: true }],
  ['ssh without command', 'ssh://h'],
  ['ssh blank command', 'ssh://h/%20%20'],
  ['ssh option injection in the host', 'ssh://-oProxyCommand=touch%20x/cmd'],
  ['ssh option injection in the user', 'ssh://-oProxyCommand=x@h/cmd'],
  ['ssh user with a space', 'ssh://a%20b@h/cmd'],
  ['ssh bad percent-encoding', 'ssh://h/%ZZ'],
  ['ssh encoded newline in the command', 'ssh://h/a%0Ab'],
  ['ssh whitespace in the host part', 'ssh://h x/cmd'],
  ['too long', `tcp://${'a'.repeat(5000)}:1`],
];

t.test('hostile and malformed URLs get ERR_TRANSPORT_URL and nothing else', async (t) => {
  for (const [name, url, options] of hostile) {
    t.throws(() => parseTransportUrl(url, options), { code: 'ERR_TRANSPORT_URL' }, name);
  }
});

t.test('fuzz: any string either parses or fails with ERR_TRANSPORT_URL; ssh hosts and users never look like options', async (t) => {
  const prefixes = fc.constantFrom('tcp://', 'unix:', 'ws://', 'wss://', 'ssh://', 'ssh://-', 'tcp://[', '');
  fc.assert(
    fc.property(prefixes, fc.string({ maxLength: 80 }), fc.boolean(), (prefix, rest, forListen) => {
      try {
        const a = parseTransportUrl(prefix + rest, { forListen });
        if (a.kind === 'ssh') return !a.host.startsWith('-') && !(a.user ?? '').startsWith('-') && a.command.trim() !== '';
        return true;
      } catch (e) {
        return isSubrunError(e, 'ERR_TRANSPORT_URL');
      }
    }),
    { numRuns: 3000 },
  );
  t.pass('3000 random URLs');
});

t.test('the ssh argv pins BatchMode first and ends options before the host (SPEC §9.9)', async (t) => {
  const a = parseTransportUrl('ssh://bob@h:2200/subrun serve');
  if (a.kind !== 'ssh') throw new Error('not ssh');
  const argv = sshArgv(a, { sshArgs: ['-i', '/k'], env: { SUBRUN_SSH_ARGS: ' -F  /cfg ' } });
  t.same(argv, ['ssh', '-o', 'BatchMode=yes', '-o', 'LogLevel=VERBOSE', '-T', '-e', 'none', '-i', '/k', '-F', '/cfg', '-p', '2200', '-l', 'bob', '--', 'h', 'subrun serve']);
});
