export { listTests, parseTestList, type ListOptions } from './list-tests.js';
export { runPartition, RETURNCODE_TEST_ID, type PartitionOptions, type PartitionResult } from './run-partition.js';
export { InstancePool, type InstancePoolOptions } from './instance-pool.js';
export { resolveConcurrency } from './concurrency.js';
export { listCommand, runCommand, instanceCommand } from './commands.js';
export { shellQuote, substituteShell, type TemplateValue } from '../../core/shell.js';
export { runShell, type ShellOptions, type ShellResult } from './shell-process.js';
