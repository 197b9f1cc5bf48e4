// The chaos probe: one JSON line per event, appended with O_APPEND by every process of a round (runners
// from inside the action, routers around each work item they send, the driver for kills and faults). Small
// appends to one local file are atomic and ordered, so the file's line order is a valid global order of
// events: a node's `end` written before its slot is released precedes the next node's `start`.
import { appendFileSync, closeSync, openSync, readSync } from 'node:fs';

interface Base {
  t: number;
  pid: number;
}

/** Written by the chaos action: pre_check began (`start`), execute began (`exec`), the node left (`end`). */
export interface ActionLine extends Base {
  kind: 'start' | 'exec' | 'end';
  task: string;
  node: string;
  attempt: number;
  /** On `end`: false when execute failed or was aborted (post_check did not run). */
  ok?: boolean;
  /** On `end` with ok=false: the action's signal had aborted (slot lost, cancel, shutdown), not a failure. */
  aborted?: boolean;
  error?: string;
}

/** Written by a router once a work item for `node` was accepted by SQS. */
export interface SentLine extends Base {
  kind: 'sent';
  task: string;
  node: string;
}

/** Written by the driver once a process it killed with SIGKILL has exited. */
export interface KillLine extends Base {
  kind: 'kill';
  role: 'runner' | 'router';
  node?: string;
}

/** Written by the driver when it injects a fault (for the reader of a failed round's probe). */
export interface FaultLine extends Base {
  kind: 'fault';
  fault: string;
  detail?: string;
}

export type ProbeLine = ActionLine | SentLine | KillLine | FaultLine;

export function appendProbe(file: string, line: ProbeLine): void {
  appendFileSync(file, `${JSON.stringify(line)}\n`, { flag: 'a' });
}

/** Reads a probe file as it grows: each `poll()` returns the complete lines appended since the last one. */
export class ProbeReader {
  readonly lines: ProbeLine[] = [];
  private offset = 0;
  private partial: Buffer = Buffer.alloc(0);

  constructor(readonly file: string) {}

  poll(): ProbeLine[] {
    const fd = openSync(this.file, 'r');
    const chunks: Buffer[] = [];
    try {
      const buf = Buffer.alloc(64 * 1024);
      for (let i = 0; i < 10_000; i++) {
        const n = readSync(fd, buf, 0, buf.length, this.offset);
        if (n === 0) break;
        this.offset += n;
        chunks.push(Buffer.from(buf.subarray(0, n)));
      }
    } finally {
      closeSync(fd);
    }
    // Split on bytes, so that a line being appended (or a multi-byte character cut by the read) waits whole.
    const data = Buffer.concat([this.partial, ...chunks]);
    const cut = data.lastIndexOf(0x0a);
    this.partial = cut < 0 ? data : data.subarray(cut + 1);
    const fresh: ProbeLine[] = [];
    if (cut >= 0) {
      for (const p of data.subarray(0, cut).toString('utf8').split('\n')) {
        if (p.trim()) fresh.push(JSON.parse(p) as ProbeLine);
      }
    }
    this.lines.push(...fresh);
    return fresh;
  }
}
