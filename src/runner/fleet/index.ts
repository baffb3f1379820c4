export { startTestServer, type TestServerProcess, type ServerStartOptions } from './test-server-process.js';
export { runBatch, reap, type BatchReport, type BatchRunOptions, type ServerCrash } from './batch-runner.js';
export { Fleet, type FleetOptions } from './fleet.js';
export { runOnFleet, type FleetRunOptions, type FleetRunResult } from './fleet-run.js';
export { analyzeIsolation, type IsolationFinding, type IsolationOptions } from './isolation.js';
export { WorkerTagger } from './worker-tag.js';
