// The service manager port: what the actions need from systemd, and nothing more. The `systemctl` adapter
// (systemctl.ts) runs on the nodes; `MemoryServiceManager` (memory-service-manager.ts) stands in for it in
// tests and in the embedded mode, since systemd is not PID 1 there.

export interface UnitStatus {
  unit: string;
  /** loaded, not-found, masked, error ... */
  loadState: string;
  /** active, inactive, activating, deactivating, failed, reloading */
  activeState: string;
  /** running, exited, dead, auto-restart ... */
  subState: string;
  /** Changes with every start of the unit: proves that a restart happened. '' when not running. */
  invocationId: string;
  /** How many times systemd restarted it by itself (Restart=); undefined when systemd does not say. */
  nRestarts: number | undefined;
  mainPid: number;
}

export interface ServiceManager {
  /** The unit's state; a unit that does not exist answers loadState "not-found" (it does not throw). */
  status(unit: string, signal: AbortSignal): Promise<UnitStatus>;
  /** Restarts the unit; resolves when the start job finished (not proof the unit stays up). */
  restart(unit: string, signal: AbortSignal): Promise<void>;
  start(unit: string, signal: AbortSignal): Promise<void>;
  stop(unit: string, signal: AbortSignal): Promise<void>;
}

/** Unit names as systemd accepts them (no shell is involved, but a config typo should fail early). */
export const UNIT_NAME = /^[A-Za-z0-9:_.@\\-]+$/;

/** "active (running), invocation 3f2a..., restarts 0": one line for logs and messages. */
export function describeUnit(s: UnitStatus): string {
  return `${s.unit}: ${s.loadState}/${s.activeState} (${s.subState})${s.invocationId ? `, invocation ${s.invocationId.slice(0, 12)}` : ''}${s.nRestarts !== undefined ? `, restarts ${s.nRestarts}` : ''}`;
}
