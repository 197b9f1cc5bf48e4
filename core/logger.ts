// pino, configured once. Daemons log JSON to stdout; `taskerman dev` pretty-prints on stderr when it is a
// terminal (JSON on stderr otherwise). Components take a
// logger in their options and bind task_id, node, cluster and action in child loggers.
import { createRequire } from 'node:module';
import { pino, type Logger, type DestinationStream, type LevelWithSilent } from 'pino';

export type { Logger };
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export interface LoggerOptions {
  level?: LevelWithSilent;
  pretty?: boolean;
  /** Tests inject a destination stream. */
  destination?: DestinationStream;
  name?: string;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const base = { level: opts.level ?? 'info', name: opts.name ?? 'taskerman', base: { pid: process.pid } };
  if (opts.destination) return pino(base, opts.destination);
  if (opts.pretty && !process.stderr.isTTY) {
    // Nobody reads colours in a pipe or a file; pino-pretty (a worker thread and its modules) is for a terminal.
    return pino(base, pino.destination({ dest: 2, sync: false }));
  }
  if (opts.pretty) {
    pointPinoAtItsWorker();
    return pino({
      ...base,
      transport: { target: 'pino-pretty', options: { colorize: process.stderr.isTTY, destination: 2, ignore: 'pid,hostname,name', translateTime: 'HH:MM:ss.l' } },
    });
  }
  return pino(base);
}

/**
 * pino-pretty runs in a worker thread that thread-stream starts from its own `lib/worker.js`, found next to
 * its code. In the CLI bundle (build/bundle-cli.ts) pino and thread-stream are bundled, so that path does not
 * exist there: name the installed file through pino's documented hook for bundlers, `__bundlerPathsOverrides`.
 * The same file thread-stream would use unbundled, so this holds for the compiled files too.
 */
function pointPinoAtItsWorker(): void {
  const g = globalThis as { __bundlerPathsOverrides?: Record<string, string> };
  if (g.__bundlerPathsOverrides?.['thread-stream-worker']) return;
  // thread-stream is pino's dependency, not ours: resolve it from pino's own folder.
  const fromPino = createRequire(createRequire(import.meta.url).resolve('pino'));
  g.__bundlerPathsOverrides = { ...g.__bundlerPathsOverrides, 'thread-stream-worker': fromPino.resolve('thread-stream/lib/worker.js') };
}

export const silentLogger: Logger = pino({ level: 'silent' });
