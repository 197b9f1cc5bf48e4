// Shows a rollout's progress while a command follows it (`run --wait`, `submit --wait`, `status --watch`):
// on a terminal, one bar redrawn in place (every change, and every second for the clock and the ETA); on
// anything else (a pipe, a CI log), nothing here: the plain progress lines of cli/wait.ts are kept.
import type { NodeRecord, TaskRecord } from '../../core/task/task.js';
import { countRollout, estimate, firstStart, renderProgressBar } from './progress-bar.js';

export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(s: string): boolean;
}

export class ProgressReporter {
  private last: { task: TaskRecord; nodes: NodeRecord[] } | undefined;
  private readonly timer: NodeJS.Timeout;
  private readonly began = Date.now();

  constructor(
    private readonly stream: ProgressStream,
    private readonly now: () => number = Date.now,
  ) {
    this.timer = setInterval(() => this.draw(), 1000);
    this.timer.unref();
  }

  /** Called with every read of the task. */
  update = (task: TaskRecord, nodes: NodeRecord[]): void => {
    this.last = { task, nodes };
    this.draw();
  };

  private draw(): void {
    if (!this.last) return;
    const { task, nodes } = this.last;
    const c = countRollout(nodes);
    const line = renderProgressBar(task, c, estimate(c, firstStart(nodes), this.now()), this.now() - this.began, this.stream.columns ?? 100);
    // \r back to the start of the line, \x1b[2K clears it: the bar is redrawn in place.
    this.stream.write(`\r\x1b[2K${line}`);
  }

  /** Leaves the last bar on screen and moves to the next line. */
  done(): void {
    clearInterval(this.timer);
    if (this.last) {
      this.draw();
      this.stream.write('\n');
    }
  }
}

/** A reporter when `stream` is a terminal; undefined otherwise (plain lines then). */
export function progressReporterFor(stream: ProgressStream): ProgressReporter | undefined {
  return stream.isTTY ? new ProgressReporter(stream) : undefined;
}
