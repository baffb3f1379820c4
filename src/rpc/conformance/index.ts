// The conformance kit's engine (SPEC §11): pure, over any Duplex byte stream.
export { parseScenario, type Scenario, type Step, type Pattern, type SendSpec, type When } from './scenario.js';
export { runScenario, encodeSend, type KitPeer, type KitOptions, type ClauseResult, type ClauseStatus, type ScenarioResult } from './engine.js';
export { runKit, type Connector, type ConnectedPeer, type KitRunOptions, type KitReport, type ScenarioReport } from './kit.js';
export { formatReport } from './report.js';
export { matches, substitute } from './matcher.js';
export type { Item, PeerExit } from './recorder.js';
