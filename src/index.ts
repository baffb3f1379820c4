// The public API of subrun. Each area adds its exports here.
export { SubrunError, InvalidArgumentError, isSubrunError } from './core/errors.js';
export { systemClock, ManualClock, type Clock, type TimerHandle } from './core/clock.js';
export { withTimeout, parseDuration, type WaitOptions } from './core/abort.js';
export { PoolClient, normalizeNeeds, type PoolClientOptions, type AcquireOptions, type NeedsInput } from './pool/client.js';
export { Lease } from './pool/lease.js';
export { createPoolServer, type PoolServer, type PoolServerOptions } from './pool/server.js';
export { PoolState, type PoolStateOptions, type RequestOutcome } from './pool/pool-state.js';
export { PoolStore, POOL_SCHEMA_VERSION } from './pool/store.js';
export { checkEventLog } from './pool/invariants.js';
export { POOL_ERROR_STATUS } from './pool/errors.js';
export type { Need, ResourceSpec, ResourceView, LeaseView, PoolEvent, PoolSnapshot } from './pool/types.js';
