export { parseConfig, readConfigFile, loadConfig, TESTR_CONF, JSON_CONFIG } from './load-config.js';
export { parseTestrConf, TESTR_KEYS } from './testr-conf.js';
export { parseJsonConfig, JSON_CONFIG_KEYS } from './json-config.js';
export { parseIni } from './ini.js';
export { makeGroupKey, compileGroupRegex, DEFAULT_TIMEOUTS } from './runner-config.js';
export type { RunnerConfig, ConfigFormat, Concurrency, InstanceHooks, ServerEntry, ResourceRequest, RunnerTimeouts } from './runner-config.js';
export { renderTestrConf, renderJsonConfig, DEFAULT_TEST_COMMAND, type InitOptions } from './templates.js';
