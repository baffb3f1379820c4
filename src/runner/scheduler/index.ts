export { makeUnits, byEstimateDescending, type WorkUnit } from './work-unit.js';
export { lptPartition, type Partition } from './lpt.js';
export { BatchQueue, type Batch, type BatchQueueOptions } from './batch-queue.js';
export { simulate, type SchedulingPolicy, type SimulationInput, type SimulationResult } from './simulate.js';
export { dispatch, type DispatchOptions, type DispatchResult, type BatchOutcome } from './dispatch.js';
