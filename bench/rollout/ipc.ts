// The requests the benchmark's driver sends a child host over IPC (child_process `send`), and the answers.
// Each request carries an id; the child answers each one exactly once, with that id.
import type { HostPlan } from './local-host.js';

export type HostRequest =
  | { id: number; op: 'start'; plan: HostPlan }
  | { id: number; op: 'sqsCounts' }
  | { id: number; op: 'measure'; taskIds: string[] }
  | { id: number; op: 'collect' }
  | { id: number; op: 'stop' };

export type HostAnswer = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };
