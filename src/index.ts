// The public API of subrun. Each area adds its exports here.
export { SubrunError, InvalidArgumentError, isSubrunError } from './core/errors.js';
export { systemClock, ManualClock, type Clock, type TimerHandle } from './core/clock.js';
export { withTimeout, parseDuration, type WaitOptions } from './core/abort.js';
export * from './subunit/index.js';
export {
  dial, spawnTransport, listen, stdioTransport, memoryPair, parseTransportUrl, formatTransportUrl, protocolFdFromEnv, sshArgsFromEnv,
  PROTOCOL_FD_ENV, SSH_ARGS_ENV, WS_MAX_MESSAGE_BYTES,
  type Transport, type TransportClosed, type DialOptions, type SpawnOptions, type ChildTransport, type ChannelMode, type Listener, type ListenOptions, type StdioTransportOptions, type TransportAddress,
} from './transport/index.js';
export { ClientConnection, type ClientOptions, type RunOptions, type RunHandle, type ListResult, type RequestOptions } from './rpc/client.js';
export { ServerConnection, type ServerHandler, type ServerOptions, type RequestContext, type ServerFinish } from './rpc/server.js';
export { PROTOCOL_MIN, PROTOCOL_MAX, validateMessage, negotiateVersion, type RpcMessage, type Capabilities } from './rpc/messages.js';
export * from './repository/index.js';
export { FailureCollector, SummaryPrinter, formatFailure, formatTotals, type FailureDetail, type RunTotals, type TextSink, type Attachment } from './report/summary.js';
export { ProgressLine, formatDuration, type ProgressOptions } from './report/progress.js';
export { PoolClient, normalizeNeeds, type PoolClientOptions, type AcquireOptions, type NeedsInput } from './pool/client.js';
export { Lease } from './pool/lease.js';
export { createPoolServer, type PoolServer, type PoolServerOptions } from './pool/server.js';
export { PoolState, type PoolStateOptions, type RequestOutcome } from './pool/pool-state.js';
export { PoolStore, POOL_SCHEMA_VERSION } from './pool/store.js';
export { checkEventLog } from './pool/invariants.js';
export { POOL_ERROR_STATUS } from './pool/errors.js';
export type { Need, ResourceSpec, ResourceView, LeaseView, PoolEvent, PoolSnapshot } from './pool/types.js';
export * from './runner/config/index.js';
export * from './runner/legacy/index.js';
export * from './runner/scheduler/index.js';
export { runLegacy, type LegacyRunOptions, type LegacyRunResult, type LegacyPartitionOutcome } from './runner/run-legacy.js';
export { TestRecordCollector, durationSeconds, type TestRecord, type TestRecordOptions } from './report/test-records.js';
export { StreamStats } from './report/stats.js';
export { junitXml, xmlText, xmlAttr, splitTestId, type JunitOptions } from './report/junit.js';
export { parseScenario, runScenario, runKit, formatReport, type Scenario, type KitPeer, type KitOptions, type KitRunOptions, type KitReport, type ScenarioResult, type ClauseResult, type Connector, type ConnectedPeer } from './rpc/conformance/index.js';
export type { Suite, ResultSink, RunRequest, RunOutcome, ListOutcome } from './server/suite.js';
export { TestApiSuite, type TestApiSuiteOptions, type SuiteStats } from './server/test-api/test-api-suite.js';
export { CommandBridgeSuite, type CommandBridgeOptions } from './server/command-bridge/command-bridge-suite.js';
export { shellQuote, type CommandTemplate } from './server/command-bridge/command-template.js';
export { PoolResources, toPoolNeeds, type PoolResourcesOptions } from './server/pool-resources.js';
export * from './runner/fleet/index.js';
export { runTests, listSelectedTests, outcomeExitCode, type RunRequest as TestRunRequest, type RunOutcome as TestRunOutcome, type RunStartInfo } from './runner/run.js';
export { selectTests, compileFilters, type SelectionRequest } from './runner/selection.js';
export { junitFromResults } from './report/run-junit.js';
