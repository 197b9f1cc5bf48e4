// `postgres:backup`: a logical backup (pg_dump, custom format) of the configured databases, taken on a
// streaming replica so the primary does not pay for it, verified, and published atomically with a sha256.
//
//   pre_check   the server is in recovery (a replica: re-checked at run time, since a failover makes a
//               replica the primary) with its WAL receiver streaming, replay lag under the thresholds, and
//               every configured database present
//   execute     per database: pg_dump -Fc into <backup_dir>/<db>-<task_id>.dump.partial with a lock wait
//               timeout, `pg_restore --list` must read it, then it is published under its final name
//   post_check  every published dump matches its checksum and `pg_restore --list` reads it
//
// Idempotent: dumps are named after the task; a retried or resumed attempt skips databases already
// published intact, and removes the partial file a dead attempt left.
import { access, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { TaskermanError } from '../../core/errors.js';
import { defineAction } from '../action.js';
import { readSecretFile, requireConfig } from '../kit/action-config.js';
import { runChecked } from '../kit/command.js';
import { throwIfAborted } from '../kit/poll.js';
import { partialName, publishFile, pruneOldest, removePartial, verifyPublished } from '../kit/publish.js';
import { connArgs, pgBin, pgEnv, pgQuery, type PgConnection } from './psql.js';

export const POSTGRES_BACKUP = 'postgres:backup';

const DB_NAME = /^[A-Za-z0-9_][A-Za-z0-9_$-]*$/;

export const postgresBackupConfigSchema = z.strictObject({
  /** Host, address, or socket directory. */
  host: z.string().min(1).default('/var/run/postgresql'),
  port: z.number().int().min(1).max(65_535).default(5432),
  user: z.string().min(1).default('postgres'),
  /** File holding the password (mode 0600); or leave it out and use peer/cert auth or ~/.pgpass. */
  password_file: z.string().min(1).optional(),
  /** Where psql, pg_dump and pg_restore are. */
  bin_dir: z.string().min(1).default('/usr/lib/postgresql/15/bin'),
  databases: z.array(z.string().regex(DB_NAME, 'database names here are letters, digits, "_", "$" or "-"')).min(1, 'name at least one database to back up'),
  backup_dir: z.string().min(1),
  /** Refuse when the replica replays more than this many seconds behind (while it has WAL left to replay). */
  max_replay_lag_seconds: z.number().int().min(0).max(86_400).default(300),
  /** Refuse when more than this many bytes of received WAL are not replayed yet. */
  max_replay_lag_bytes: z.number().int().min(0).default(64 * 1024 * 1024),
  /** pg_dump gives up on a table lock after this long (s), rather than queue behind DDL. */
  lock_wait_timeout_seconds: z.number().int().min(1).max(3600).default(60),
  /** Published dumps kept per database. */
  keep: z.number().int().min(1).max(10_000).default(14),
});
export type PostgresBackupConfig = z.infer<typeof postgresBackupConfigSchema>;

export const postgresBackupArgs = z.strictObject({
  /** How long one database's dump may take (s). */
  dump_timeout_seconds: z.number().int().min(10).max(86_400, 'must be at most 86400').default(3600),
});
type Args = z.infer<typeof postgresBackupArgs>;

const fileFor = (c: PostgresBackupConfig, db: string, taskId: string) => path.join(c.backup_dir, `${db}-${taskId}.dump`);

async function connection(c: PostgresBackupConfig): Promise<PgConnection> {
  return { host: c.host, port: c.port, user: c.user, binDir: c.bin_dir, ...(c.password_file ? { password: await readSecretFile(c.password_file) } : {}) };
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

/** `pg_restore --list` reads the archive and lists at least one entry. */
async function listArchive(conn: PgConnection, file: string, signal: AbortSignal): Promise<number> {
  const r = await runChecked([pgBin(conn, 'pg_restore'), '--list', file], { signal, timeoutMs: 300_000, errorCode: 'CHECK_FAILED', env: pgEnv(conn) });
  const entries = r.stdout.split('\n').filter((l) => l.trim() !== '' && !l.startsWith(';')).length;
  if (entries === 0) throw new TaskermanError('CHECK_FAILED', `pg_restore --list ${file} lists nothing`);
  return entries;
}

export function createPostgresBackupAction(config: PostgresBackupConfig | undefined) {
  return defineAction<Args>({
    name: POSTGRES_BACKUP,
    version: 1,
    description: 'pg_dump of the configured databases on a streaming replica, verified with pg_restore --list, published atomically with a sha256.',
    args: postgresBackupArgs,

    async preCheck(ctx) {
      const c = requireConfig(POSTGRES_BACKUP, config);
      const conn = await connection(c);
      const [row] = await pgQuery(
        conn,
        'postgres',
        `SELECT pg_is_in_recovery(),
                coalesce((SELECT status FROM pg_stat_wal_receiver LIMIT 1), ''),
                coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp())::bigint, -1),
                coalesce(pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::bigint, 0)`,
        { signal: ctx.signal },
      );
      const [inRecovery, receiver, lagSeconds, lagBytes] = row ?? [];
      const seen = { in_recovery: inRecovery === 't', wal_receiver: receiver, replay_lag_seconds: Number(lagSeconds), replay_lag_bytes: Number(lagBytes) };
      ctx.logger.info(seen, 'replica before the backup');
      if (inRecovery !== 't') throw new TaskermanError('CHECK_FAILED', `${c.host}:${c.port} is not in recovery: this node is a primary, and backups run on replicas`, { retryable: false, hint: 'target the replicas of the cluster (a failover may have promoted this one)' });
      if (receiver !== 'streaming') throw new TaskermanError('CHECK_FAILED', `the replica's WAL receiver is ${receiver || 'not running'}, not streaming: its data may be stale`);
      if (seen.replay_lag_bytes > c.max_replay_lag_bytes) throw new TaskermanError('CHECK_FAILED', `the replica has ${seen.replay_lag_bytes} bytes of WAL not replayed yet (at most ${c.max_replay_lag_bytes})`);
      // On an idle primary the time since the last replayed transaction grows with no real lag: it counts
      // only while there is WAL left to replay.
      if (seen.replay_lag_bytes > 0 && seen.replay_lag_seconds > c.max_replay_lag_seconds) throw new TaskermanError('CHECK_FAILED', `the replica replays ${seen.replay_lag_seconds} s behind (at most ${c.max_replay_lag_seconds})`);
      const present = new Set((await pgQuery(conn, 'postgres', 'SELECT datname FROM pg_database', { signal: ctx.signal })).map((r) => r[0]));
      const missing = c.databases.filter((d) => !present.has(d));
      if (missing.length > 0) throw new TaskermanError('CHECK_FAILED', `databases not on this server: ${missing.join(', ')}`, { retryable: false, hint: 'fix `databases` in the runner config' });
    },

    async execute(ctx) {
      const c = requireConfig(POSTGRES_BACKUP, config);
      const conn = await connection(c);
      await mkdir(c.backup_dir, { recursive: true });
      for (const db of c.databases) {
        const final = fileFor(c, db, ctx.taskId);
        if (await exists(final)) {
          const sha = await verifyPublished(final, ctx.signal).catch(() => undefined);
          if (sha) {
            ctx.logger.info({ database: db, file: final, sha256: sha }, 'already published by an earlier attempt: skipping');
            continue;
          }
        }
        await removePartial(final);
        const partial = partialName(final);
        throwIfAborted(ctx.signal, `dumping ${db}`);
        const started = Date.now();
        await runChecked([pgBin(conn, 'pg_dump'), '-Fc', `--lock-wait-timeout=${c.lock_wait_timeout_seconds * 1000}`, '-f', partial, ...connArgs(conn, db)], {
          signal: ctx.signal,
          timeoutMs: ctx.args.dump_timeout_seconds * 1000,
          env: pgEnv(conn),
          errorCode: 'ACTION_FAILED',
        }).catch(async (err: unknown) => {
          await removePartial(final);
          // "canceling statement due to conflict with recovery": max_standby_streaming_delay is too short for this dump.
          throw err;
        });
        const entries = await listArchive(conn, partial, ctx.signal);
        const { sha256, bytes } = await publishFile(partial, final, ctx.signal);
        ctx.logger.info({ database: db, file: final, sha256, bytes, entries, duration_ms: Date.now() - started }, 'dump published');
        const removed = await pruneOldest(c.backup_dir, { prefix: `${db}-`, suffix: '.dump', keep: c.keep });
        if (removed.length > 0) ctx.logger.info({ database: db, removed }, 'older dumps removed');
      }
    },

    async postCheck(ctx) {
      const c = requireConfig(POSTGRES_BACKUP, config);
      const conn = await connection(c);
      for (const db of c.databases) {
        const final = fileFor(c, db, ctx.taskId);
        const sha256 = await verifyPublished(final, ctx.signal);
        const entries = await listArchive(conn, final, ctx.signal);
        ctx.logger.info({ database: db, file: final, sha256, entries }, 'dump verified');
      }
    },
  });
}
