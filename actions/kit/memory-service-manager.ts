// A ServiceManager in memory, for tests and the embedded mode (systemd is not PID 1 there). Units are
// declared up front; a restart gives the unit a new invocation id and may run a hook that really restarts a
// process (a test's ZooKeeper member), so actions see the same state changes they see under systemd.
// Tests can make a unit fail to start, flap, or be missing.
import { randomUUID } from 'node:crypto';
import { AbortedError, TaskermanError } from '../../core/errors.js';
import type { ServiceManager, UnitStatus } from './service-manager.js';

export interface MemoryUnit {
  /** Default "active". */
  activeState?: string;
  /** Runs on restart (after the old invocation ends); a throw leaves the unit failed. */
  onRestart?: (signal: AbortSignal) => Promise<void>;
  onStop?: (signal: AbortSignal) => Promise<void>;
  onStart?: (signal: AbortSignal) => Promise<void>;
}

interface UnitState {
  activeState: string;
  invocationId: string;
  nRestarts: number;
  hooks: MemoryUnit;
}

export class MemoryServiceManager implements ServiceManager {
  private readonly units = new Map<string, UnitState>();
  /** Every call made, "restart cassandra.service", in order: what tests assert on. */
  readonly calls: string[] = [];

  constructor(units: Record<string, MemoryUnit> = {}) {
    for (const [name, u] of Object.entries(units)) this.define(name, u);
  }

  define(unit: string, u: MemoryUnit = {}): void {
    const activeState = u.activeState ?? 'active';
    this.units.set(unit, { activeState, invocationId: activeState === 'active' ? randomUUID() : '', nRestarts: 0, hooks: u });
  }

  /** Sets a unit's state from outside, as a crash or systemd's own restart would. */
  setState(unit: string, activeState: string, opts: { newInvocation?: boolean; autoRestart?: boolean } = {}): void {
    const u = this.get(unit);
    u.activeState = activeState;
    if (opts.newInvocation) u.invocationId = randomUUID();
    if (opts.autoRestart) u.nRestarts++;
  }

  async status(unit: string, signal: AbortSignal): Promise<UnitStatus> {
    if (signal.aborted) throw new AbortedError(`status ${unit} stopped`, { cause: signal.reason });
    this.calls.push(`status ${unit}`);
    const u = this.units.get(unit);
    if (!u) return { unit, loadState: 'not-found', activeState: 'inactive', subState: 'dead', invocationId: '', nRestarts: undefined, mainPid: 0 };
    const running = u.activeState === 'active';
    return { unit, loadState: 'loaded', activeState: u.activeState, subState: running ? 'running' : u.activeState === 'failed' ? 'failed' : 'dead', invocationId: u.invocationId, nRestarts: u.nRestarts, mainPid: running ? 4242 : 0 };
  }

  async restart(unit: string, signal: AbortSignal): Promise<void> {
    this.calls.push(`restart ${unit}`);
    await this.transition(unit, signal, this.get(unit).hooks.onRestart);
  }

  async start(unit: string, signal: AbortSignal): Promise<void> {
    this.calls.push(`start ${unit}`);
    const u = this.get(unit);
    if (u.activeState === 'active') return;
    await this.transition(unit, signal, u.hooks.onStart);
  }

  async stop(unit: string, signal: AbortSignal): Promise<void> {
    this.calls.push(`stop ${unit}`);
    const u = this.get(unit);
    u.activeState = 'deactivating';
    await u.hooks.onStop?.(signal);
    u.activeState = 'inactive';
    u.invocationId = '';
  }

  private async transition(unit: string, signal: AbortSignal, hook: ((s: AbortSignal) => Promise<void>) | undefined): Promise<void> {
    const u = this.get(unit);
    if (signal.aborted) throw new AbortedError(`not changing ${unit}`, { cause: signal.reason });
    u.activeState = 'activating';
    u.invocationId = randomUUID();
    try {
      await hook?.(signal);
    } catch (err) {
      u.activeState = 'failed';
      throw new TaskermanError('ACTION_FAILED', `${unit} failed to start: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    u.activeState = 'active';
  }

  private get(unit: string): UnitState {
    const u = this.units.get(unit);
    if (!u) throw new TaskermanError('ACTION_FAILED', `Unit ${unit} not found.`, { retryable: false });
    return u;
  }
}
