// Running nodetool against this node (no -h) or a peer (-h <address>), as argv with no shell, each call
// bounded, with the JMX credentials from the local config. A non-zero exit is an error naming the command.
import type { Logger } from 'pino';
import { TaskermanError } from '../../core/errors.js';
import { lastLines, runCommand } from '../kit/command.js';
import type { NodetoolConfig } from './cassandra-config.js';

export class Nodetool {
  constructor(
    private readonly cfg: NodetoolConfig,
    private readonly signal: AbortSignal,
    private readonly logger: Logger,
  ) {}

  /** argv for `args` against `host` (undefined: this node). */
  argv(args: string[], host?: string): string[] {
    const conn: string[] = [];
    if (host) conn.push('-h', host);
    if (this.cfg.jmx_port !== undefined) conn.push('-p', String(this.cfg.jmx_port));
    if (this.cfg.jmx_username) conn.push('-u', this.cfg.jmx_username);
    if (this.cfg.jmx_password_file) conn.push('-pwf', this.cfg.jmx_password_file);
    return [...this.cfg.nodetool, ...conn, ...args];
  }

  /** stdout of `nodetool [-h host] args`; throws CHECK_FAILED (or the given code) on a non-zero exit. */
  async run(args: string[], o: { host?: string; timeoutMs?: number; code?: 'CHECK_FAILED' | 'ACTION_FAILED' } = {}): Promise<string> {
    const argv = this.argv(args, o.host);
    this.logger.debug({ argv }, 'nodetool');
    const r = await runCommand(argv, { signal: this.signal, timeoutMs: o.timeoutMs ?? this.cfg.command_timeout, env: this.cfg.env });
    if (r.code !== 0) {
      const why = lastLines(r.stderr || r.stdout) || `exit code ${r.code ?? r.signal}`;
      throw new TaskermanError(o.code ?? 'CHECK_FAILED', `nodetool ${o.host ? `-h ${o.host} ` : ''}${args.join(' ')}: ${why}`, { context: { exit_code: r.code } });
    }
    return r.stdout;
  }
}
