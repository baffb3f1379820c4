/**
 * What `node:test` resolves to inside a subrun worker, so unmodified node:test files
 * run in the server. `mock` is node's own (it needs no runner). Not provided:
 * `run()`, `t.mock`, `t.plan`, `t.assert`, snapshots, t.before/t.beforeEach on a test
 * context; a file using them fails where it uses them.
 */
export { test, it, describe, suite, before, after, beforeEach, afterEach } from './api.js';
export { test as default } from './api.js';
export { mock } from 'node:test';
