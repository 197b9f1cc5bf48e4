// The ServiceManager on a systemd host: `systemctl show -p ...` to read a unit, `systemctl restart|start|stop`
// to change it, each an argv with no shell and a timeout. `prefix` lets a runner that is not root go
// through a narrow sudo rule (["sudo", "-n"]).
import { z } from 'zod';
import { TaskermanError } from '../../core/errors.js';
import { runChecked, runCommand } from './command.js';
import { numberField, parseKeyValues } from './parse.js';
import { UNIT_NAME, type ServiceManager, type UnitStatus } from './service-manager.js';

export interface SystemctlOptions {
  /** Default "systemctl". */
  systemctl?: string;
  /** Put before systemctl, e.g. ["sudo", "-n"]. Default none. */
  prefix?: string[];
  /** Timeout of `show` (ms); default 10 000. */
  showTimeoutMs?: number;
  /** Timeout of restart/start/stop (ms); default 300 000 (TimeoutStartSec + TimeoutStopSec, with room). */
  jobTimeoutMs?: number;
}

const PROPS = ['LoadState', 'ActiveState', 'SubState', 'InvocationID', 'NRestarts', 'MainPID'];

export class SystemctlServiceManager implements ServiceManager {
  private readonly argv0: string[];
  private readonly showTimeoutMs: number;
  private readonly jobTimeoutMs: number;

  constructor(o: SystemctlOptions = {}) {
    this.argv0 = [...(o.prefix ?? []), o.systemctl ?? 'systemctl'];
    this.showTimeoutMs = o.showTimeoutMs ?? 10_000;
    this.jobTimeoutMs = o.jobTimeoutMs ?? 300_000;
  }

  async status(unit: string, signal: AbortSignal): Promise<UnitStatus> {
    checkUnit(unit);
    const r = await runCommand([...this.argv0, 'show', '--no-pager', '-p', PROPS.join(','), '--', unit], { signal, timeoutMs: this.showTimeoutMs });
    if (r.code !== 0) throw new TaskermanError('CHECK_FAILED', `systemctl show ${unit}: exit code ${r.code ?? r.signal}: ${r.stderr.trim()}`);
    return parseShow(unit, r.stdout);
  }

  async restart(unit: string, signal: AbortSignal): Promise<void> {
    await this.job('restart', unit, signal);
  }
  async start(unit: string, signal: AbortSignal): Promise<void> {
    await this.job('start', unit, signal);
  }
  async stop(unit: string, signal: AbortSignal): Promise<void> {
    await this.job('stop', unit, signal);
  }

  private async job(verb: string, unit: string, signal: AbortSignal): Promise<void> {
    checkUnit(unit);
    await runChecked([...this.argv0, verb, '--', unit], { signal, timeoutMs: this.jobTimeoutMs });
  }
}

/** Parses `systemctl show -p ...` output (Key=Value lines). */
export function parseShow(unit: string, stdout: string): UnitStatus {
  const kv = parseKeyValues(stdout, '=');
  return {
    unit,
    loadState: kv.get('LoadState') ?? 'unknown',
    activeState: kv.get('ActiveState') ?? 'unknown',
    subState: kv.get('SubState') ?? 'unknown',
    invocationId: kv.get('InvocationID') ?? '',
    nRestarts: numberField(kv, 'NRestarts'),
    mainPid: numberField(kv, 'MainPID') ?? 0,
  };
}

function checkUnit(unit: string): void {
  if (!UNIT_NAME.test(unit)) throw new TaskermanError('INVALID_OPTION', `"${unit}" is not a systemd unit name`, { retryable: false });
}

/** The runner config's `service_manager` section. */
export const systemctlConfigSchema = z.strictObject({
  systemctl: z.string().min(1).default('systemctl'),
  /** e.g. [sudo, -n] for a runner that is not root (with a sudoers rule for exactly these verbs). */
  prefix: z.array(z.string().min(1)).default([]),
  job_timeout_seconds: z.number().int().min(1).max(3600).default(300),
});
export type SystemctlConfig = z.infer<typeof systemctlConfigSchema>;

export function systemctlFromConfig(c: SystemctlConfig): SystemctlServiceManager {
  return new SystemctlServiceManager({ systemctl: c.systemctl, prefix: c.prefix, jobTimeoutMs: c.job_timeout_seconds * 1000 });
}
