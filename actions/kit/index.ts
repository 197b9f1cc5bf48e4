// The action kit: what every real action needs, written once. Built-in actions and site plugins import it
// (a plugin as `taskerman/kit`). See actions/README.md for the contract and a worked example.
export { pollUntil, pollStable, StopPolling, throwIfAborted, DEFAULT_POLL_INTERVAL_MS, type PollOptions, type Probe } from './poll.js';
export { runCommand, runChecked, describeExit, lastLines, DEFAULT_COMMAND_TIMEOUT_MS, type CommandOptions, type CommandResult } from './command.js';
export { parseKeyValues, numberField } from './parse.js';
export { tcpExchange, DEFAULT_TCP_TIMEOUT_MS, type TcpExchangeOptions } from './tcp.js';
export { httpJson, DEFAULT_HTTP_TIMEOUT_MS, type HttpJsonOptions, type HttpJsonResult } from './http-json.js';
export { Restorer, RestoreError, withRestore, type Undo } from './restore.js';
export { describeUnit, UNIT_NAME, type ServiceManager, type UnitStatus } from './service-manager.js';
export { SystemctlServiceManager, parseShow, systemctlConfigSchema, systemctlFromConfig, type SystemctlOptions, type SystemctlConfig } from './systemctl.js';
export { MemoryServiceManager, type MemoryUnit } from './memory-service-manager.js';
export { readBootId, BOOT_ID_FILE } from './boot-id.js';
export { publishFile, verifyPublished, removePartial, partialName, pruneOldest, sha256File, CHECKSUM_SUFFIX } from './publish.js';
export { requireConfig, readSecretFile } from './action-config.js';
export { argvSchema, healthCommandSchema, waitHealthy, type HealthCommand } from './health-command.js';
export { restartUnitOnce, waitUnitRestarted, type RestartOnceContext } from './restart-once.js';
