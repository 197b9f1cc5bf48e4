// A node's local health command (from the runner's config): an argv that exits 0 when the service answers
// as it should ("curl -fsS localhost:9200/_cluster/health?wait_for_status=yellow", a site script). Actions
// poll it with a deadline after a change; it is never a string for a shell.
import { z } from 'zod';
import type { Logger } from 'pino';
import { describeExit, lastLines, runCommand } from './command.js';
import { pollUntil } from './poll.js';

export const argvSchema = z.array(z.string().min(1)).min(1, 'must name the program and its arguments, like ["/usr/local/bin/check", "--quick"]');

export const healthCommandSchema = z.strictObject({
  argv: argvSchema,
  /** Keep asking for this long after the change (s). */
  timeout_seconds: z.number().int().min(1).max(3600).default(300),
  /** Pause between two runs (s). */
  interval_seconds: z.number().min(0.1).max(60).default(2),
});
export type HealthCommand = z.infer<typeof healthCommandSchema>;

/** Runs the health command until it exits 0 (each run bounded by the interval × 10, at least 10 s). */
export async function waitHealthy(h: HealthCommand, o: { signal: AbortSignal; logger: Logger; what: string }): Promise<void> {
  const runTimeout = Math.max(10_000, h.interval_seconds * 10_000);
  await pollUntil(
    async () => {
      const r = await runCommand(h.argv, { signal: o.signal, timeoutMs: runTimeout, maxOutputBytes: 64 * 1024 });
      if (r.code === 0) return { done: true, value: undefined };
      return { done: false, seen: `${h.argv.join(' ')}: ${describeExit(r)}${r.stderr || r.stdout ? `: ${lastLines(r.stderr || r.stdout, 1)}` : ''}` };
    },
    { what: o.what, timeoutMs: h.timeout_seconds * 1000, intervalMs: h.interval_seconds * 1000, signal: o.signal, onPending: (seen) => o.logger.debug({ seen }, 'health command not passing yet') },
  );
  o.logger.info({ argv: h.argv }, 'health command passes');
}
