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
export { parseScenario, runScenario, runKit, formatReport, type Scenario, type KitPeer, type KitOptions, type KitRunOptions, type KitReport, type ScenarioResult, type ClauseResult, type Connector, type ConnectedPeer } from './rpc/conformance/index.js';
