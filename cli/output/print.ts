// Printing a command's --json output: typed against its schema in `outputs.ts`, one JSON document on stdout.
import type { OutputName, OutputOf } from './outputs.js';

export function printJson<K extends OutputName>(ctx: { out: (line: string) => void }, _name: K, value: OutputOf<K>): void {
  ctx.out(JSON.stringify(value, null, 2));
}
