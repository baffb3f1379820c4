#!/usr/bin/env python3
"""Rebuild SPEC.md §10 from protocol/errors.json after adding the codes that the
layer sections of SPEC.md (§9.10 transport, §12.9 pool) define and the registry lacks.
Run from the project root; test/protocol/errors.test.ts checks the result."""
import json, re

spec = open('SPEC.md').read()
reg = json.load(open('protocol/errors.json'))
codes = {c['code']: c for c in reg['codes']}

def normalise(c):
    w = c.get('wire')
    c['wire'] = 'rpc' if w is True else ('local' if w is False else w)
    return c

for c in reg['codes']:
    normalise(c)

def section(title_re):
    m = re.search(title_re, spec, re.M)
    if not m:
        return ''
    end = spec.find('\n## ', m.end())
    nxt = spec.find('\n### ', m.end())
    stop = min(x for x in (end, nxt) if x > 0)
    return spec[m.end():stop]

def add(code, layer, wire, meaning):
    if code not in codes:
        c = {'code': code, 'layer': layer, 'wire': wire, 'meaning': meaning}
        reg['codes'].append(c); codes[code] = c

for row in re.finditer(r'^\| `(ERR_[A-Z0-9_]+)` \| ([^|]+) \|', section(r'^### 9\.10\..*$'), re.M):
    add(row.group(1), 'transport', 'local', row.group(2).strip()[0].upper() + row.group(2).strip()[1:] + ' (§9.10).')
for row in re.finditer(r'^\| `(ERR_[A-Z0-9_]+)` \| (\d+) \| ([^|]+) \|', section(r'^### 12\.9\..*$'), re.M):
    m = row.group(3).strip()
    add(row.group(1), 'pool', 'pool', f'HTTP {row.group(2)}: {m[0].upper() + m[1:]} (§12.9).')

extra = [
    ('ERR_POOL_CONNECT', 'pool', 'local', 'The pool client cannot connect, or was refused before `welcome` (§12.9).'),
    ('ERR_POOL_CLOSED', 'pool', 'local', 'The pool client was used after it was closed (§12.9).'),
    ('ERR_POOL_LEASE_LOST', 'pool', 'local', 'A lease was lost: expired, revoked or fenced off (the client\'s `lost` event, §12.7).'),
    ('ERR_POOL_LISTEN', 'pool', 'local', 'The pool server could not listen on its address (§12.9).'),
    ('ERR_POOL_STORE', 'pool', 'local', 'The pool\'s SQLite store could not be opened or written (§12.8).'),
    ('ERR_IO', 'cli', 'local', 'A file named on the command line could not be read or written.'),
    ('ERR_SUBUNIT_JSON', 'subunit', 'local', '`stream encode` met a line that is not a valid JSON event (§3).'),
    ('ERR_COMMAND_SPAWN', 'server', 'local', 'The command bridge could not start its test command.'),
    ('ERR_NO_TESTS', 'runner', 'local', 'The selection matched no test: a run that executes nothing is not a success (§14.10).'),
    ('ERR_SERVER_START', 'runner', 'local', 'A test server could not be started or handshaken; details carry its exit status and stderr tail (§14.9).'),
    ('ERR_RESTART_BUDGET', 'runner', 'local', 'Test servers kept dying: the restart budget is spent and tests were left unrun (§14.9).'),
    ('ERR_SUITE_CLOSED', 'server', 'local', 'A test suite was used after close() or destroy().'),
    ('ERR_WORKER_START', 'server', 'local', 'The test worker failed to start or load the test files.'),
    ('ERR_WORKER_START_TIMEOUT', 'server', 'local', 'The test worker did not finish loading the test files in time.'),
    ('ERR_ASSERTION', 'testing', 'local', 'A test\'s assertion failed (reported in the test\'s traceback).'),
    ('ERR_TEST_TIMEOUT', 'testing', 'local', 'A test or hook ran past its timeout.'),
    ('ERR_COLLECT_BUSY', 'testing', 'local', 'Test files were loaded into a registry that was already collecting another file.'),
    ('ERR_ASYNC_DESCRIBE', 'testing', 'local', 'A `describe` body returned a promise; describe bodies must be synchronous.'),
    ('ERR_NOT_COLLECTING', 'testing', 'local', '`test`/`describe` was called outside the loading of a test file or a running test.'),
]
for e in extra:
    add(*e)

order = ['core', 'cli', 'subunit', 'rpc', 'conformance', 'transport', 'testing', 'server', 'runner', 'repository', 'pool']
reg['codes'].sort(key=lambda c: (order.index(c['layer']) if c['layer'] in order else 99, c['code']))
reg['description'] = ('Every error code a peer or a user can see. Mirrors SPEC.md §10; test/protocol/errors.test.ts '
                      'keeps them, and the code, in step. `wire`: rpc = may travel in an RPC Error message (§7.3), '
                      'pool = sent by the pool server (§12.9), local = raised in this process only.')
with open('protocol/errors.json', 'w') as f:
    json.dump(reg, f, indent=2, ensure_ascii=False); f.write('\n')

table = '\n'.join(f"| `{c['code']}` | {c['layer']} | {c['wire']} | {c['meaning']} |" for c in reg['codes'])
new = f"""## 10. Error codes

Every code a peer or a user can see. *Wire* says where a code travels: `rpc` codes may be
sent in an `Error` message (§7.3); `pool` codes are sent by the pool server (§12.9); `local`
codes are raised in the process that detects them (the client, the CLI, a transport).
`protocol/errors.json` holds the same table as data (regenerate this section with
`scripts/sync-error-codes.py`), and a test keeps it, this section and the code in step.

| code | layer | wire | meaning |
|---|---|---|---|
{table}

"""
i = spec.index('## 10. Error codes'); j = spec.index('## 11. Conformance kit')
open('SPEC.md', 'w').write(spec[:i] + new + spec[j:])
print(len(reg['codes']), 'codes')
