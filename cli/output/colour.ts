// Colour on a terminal only: never when the stream is piped, with NO_COLOR set (https://no-color.org), or
// TERM=dumb; FORCE_COLOR=1 forces it (for screenshots and tests).
import type { NodeState, TaskState } from '../../core/task/task.js';

export function useColour(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '' && env.FORCE_COLOR !== '0') return true;
  return Boolean(stream.isTTY) && env.TERM !== 'dumb';
}

const CODES = { red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, grey: 90, bold: 1 } as const;
export type Paint = keyof typeof CODES;

export function paint(on: boolean, colour: Paint, s: string): string {
  return on ? `\u001b[${CODES[colour]}m${s}\u001b[0m` : s;
}

const STATE_COLOUR: Partial<Record<NodeState | TaskState, Paint>> = {
  SUCCEEDED: 'green',
  succeeded: 'green',
  DEAD: 'red',
  FAILED: 'yellow',
  failed: 'red',
  halted: 'red',
  SKIPPED: 'magenta',
  cancelled: 'magenta',
  STARTED: 'cyan',
  running: 'cyan',
  WAITING: 'grey',
  QUEUED: 'grey',
};

export function paintState(on: boolean, state: NodeState | TaskState, text: string = state): string {
  const c = STATE_COLOUR[state];
  return c ? paint(on, c, text) : text;
}

// eslint-disable-next-line no-control-regex
const ANSI_RE = /\u001b\[[0-9;]*m/g;
/** Printed width of a string, without its colour codes. */
export const visibleLength = (s: string): number => s.replace(ANSI_RE, '').length;
