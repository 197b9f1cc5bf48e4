// Asking a local PostgreSQL a question through `psql` (argv, no shell): unaligned, tuples only, fields split
// on a unit separator, no ~/.psqlrc, stop at the first error. The connection comes from the runner config;
// a password, when there is one, goes through PGPASSWORD in the child's environment, never into argv.
import path from 'node:path';
import { TaskermanError } from '../../core/errors.js';
import { lastLines, runCommand } from '../kit/command.js';

export interface PgConnection {
  /** A host name, an address, or the socket directory (/var/run/postgresql). */
  host: string;
  port: number;
  user: string;
  /** Directory of psql, pg_dump, pg_restore (Debian: /usr/lib/postgresql/<major>/bin). */
  binDir: string;
  password?: string;
}

const FIELD_SEP = '\x1f';

export const pgBin = (c: PgConnection, tool: 'psql' | 'pg_dump' | 'pg_restore'): string => path.join(c.binDir, tool);

export function pgEnv(c: PgConnection): Record<string, string> {
  return { PGCONNECT_TIMEOUT: '10', ...(c.password !== undefined ? { PGPASSWORD: c.password } : {}) };
}

export function connArgs(c: PgConnection, database: string): string[] {
  return ['-h', c.host, '-p', String(c.port), '-U', c.user, '-d', database];
}

/** Runs one SQL statement and returns its rows (fields as text, NULL as ''). */
export async function pgQuery(c: PgConnection, database: string, sql: string, o: { signal: AbortSignal; timeoutMs?: number }): Promise<string[][]> {
  const r = await runCommand([pgBin(c, 'psql'), '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-F', FIELD_SEP, ...connArgs(c, database), '-c', sql], {
    signal: o.signal,
    timeoutMs: o.timeoutMs ?? 30_000,
    env: pgEnv(c),
  });
  if (r.code !== 0) throw new TaskermanError('CHECK_FAILED', `psql on ${c.host}:${c.port}/${database}: ${lastLines(r.stderr || r.stdout, 2) || `exit code ${r.code}`}`);
  return r.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split(FIELD_SEP));
}
