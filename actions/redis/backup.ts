// `redis:backup`: an RDB snapshot of this node's Redis, taken on a replica, copied, verified and published
// atomically with its sha256.
//
//   pre_check   the server is a replica with its link to the primary up and no full sync in progress, heard
//               from the primary recently (each configurable), and no BGSAVE or AOF rewrite is running
//   execute     BGSAVE, then waits until a save newer than the one before has finished with status ok
//               (rdb_saves and LASTSAVE, since LASTSAVE has one-second resolution and counts the startup as a
//               save, and rdb_last_bgsave_status stays "err" until the next success); copies the RDB to
//               <backup_dir>/redis-<task_id>.rdb.partial, checks it with redis-check-rdb, publishes it
//   post_check  the last save is the new one and ok; the published file matches its checksum
//
// Idempotent: the file is named after the task, so a retried or resumed attempt that finds it published and
// intact does nothing; a save started by an earlier attempt (checkpointed) is waited for, not repeated.
import { copyFile, mkdir, access } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { TaskermanError } from '../../core/errors.js';
import { defineAction, type ActionContext } from '../action.js';
import { readSecretFile, requireConfig } from '../kit/action-config.js';
import { argvSchema } from '../kit/health-command.js';
import { runChecked } from '../kit/command.js';
import { pollUntil, StopPolling, throwIfAborted } from '../kit/poll.js';
import { partialName, publishFile, pruneOldest, removePartial, verifyPublished } from '../kit/publish.js';
import { redisCall, redisInfo, type RedisEndpoint } from './resp.js';

export const REDIS_BACKUP = 'redis:backup';

export const redisBackupConfigSchema = z.strictObject({
  host: z.string().min(1).default('127.0.0.1'),
  port: z.number().int().min(1).max(65_535).default(6379),
  /** ACL user (Redis 6+); default the default user. */
  username: z.string().min(1).optional(),
  /** File holding the password (mode 0600), never the password itself in this file. */
  password_file: z.string().min(1).optional(),
  /** Where backups are published. */
  backup_dir: z.string().min(1),
  /** The RDB file; default: asked from the server (CONFIG GET dir, dbfilename), which hardened installs rename. */
  rdb_path: z.string().min(1).optional(),
  /** Checks a copied RDB; exit 0 means readable. Its last argument is the file. */
  verify_command: argvSchema.default(['redis-check-rdb']),
  /** Refuse on a primary (a BGSAVE forks it and can stall writes). */
  require_replica: z.boolean().default(true),
  /** Refuse when the primary was last heard from longer ago than this (s). */
  max_master_io_seconds: z.number().int().min(1).max(3600).default(10),
  /** Published backups of this server kept; older ones are removed. */
  keep: z.number().int().min(1).max(10_000).default(14),
});
export type RedisBackupConfig = z.infer<typeof redisBackupConfigSchema>;

export const redisBackupArgs = z.strictObject({
  /** How long the BGSAVE may take (s); size it to the dataset. */
  save_timeout_seconds: z.number().int().min(1).max(86_400, 'must be at most 86400').default(3600),
});
type Args = z.infer<typeof redisBackupArgs>;

const CP_SAVES = 'rdb_saves_before';
const CP_LASTSAVE = 'lastsave_before';
const CP_FILE = 'published';

const fileFor = (c: RedisBackupConfig, taskId: string) => path.join(c.backup_dir, `redis-${taskId}.rdb`);

async function endpoint(c: RedisBackupConfig): Promise<RedisEndpoint> {
  return { host: c.host, port: c.port, ...(c.username ? { username: c.username } : {}), ...(c.password_file ? { password: await readSecretFile(c.password_file) } : {}) };
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

interface SaveState {
  saves: number | undefined;
  lastsave: number;
  inProgress: boolean;
  status: string;
  aofRewrite: boolean;
}

async function saveState(ep: RedisEndpoint, signal: AbortSignal): Promise<SaveState> {
  const p = await redisInfo(ep, 'persistence', { signal });
  const lastsave = await redisCall(ep, ['LASTSAVE'], { signal });
  const saves = p.get('rdb_saves');
  return {
    saves: saves === undefined ? undefined : Number(saves),
    lastsave: typeof lastsave === 'number' ? lastsave : Number(p.get('rdb_last_save_time') ?? 0),
    inProgress: p.get('rdb_bgsave_in_progress') === '1',
    status: p.get('rdb_last_bgsave_status') ?? 'unknown',
    aofRewrite: p.get('aof_rewrite_in_progress') === '1',
  };
}

/** A save newer than the checkpointed one finished, and finished ok. */
function newerSave(s: SaveState, ctx: ActionContext<Args>): boolean {
  const saves = ctx.checkpoint.get<number | null>(CP_SAVES);
  const lastsave = ctx.checkpoint.get<number>(CP_LASTSAVE);
  const advanced = saves !== undefined && saves !== null && s.saves !== undefined ? s.saves > saves : lastsave !== undefined && s.lastsave > lastsave;
  return advanced && !s.inProgress && s.status === 'ok';
}

export function createRedisBackupAction(config: RedisBackupConfig | undefined) {
  return defineAction<Args>({
    name: REDIS_BACKUP,
    version: 1,
    description: 'BGSAVE on a Redis replica, copy the RDB, verify it with redis-check-rdb, publish it atomically with a sha256.',
    args: redisBackupArgs,

    async preCheck(ctx) {
      const c = requireConfig(REDIS_BACKUP, config);
      const ep = await endpoint(c);
      const r = await redisInfo(ep, 'replication', { signal: ctx.signal });
      const role = r.get('role');
      const seen = { role, master_link_status: r.get('master_link_status'), master_sync_in_progress: r.get('master_sync_in_progress'), master_last_io_seconds_ago: r.get('master_last_io_seconds_ago') };
      ctx.logger.info(seen, 'replication before the backup');
      if (c.require_replica) {
        if (role !== 'slave') throw new TaskermanError('CHECK_FAILED', `${c.host}:${c.port} is a ${role ?? 'server of unknown role'}, not a replica: backups run on replicas (require_replica in the runner config)`, { retryable: false });
        if (r.get('master_link_status') !== 'up') throw new TaskermanError('CHECK_FAILED', `the replica's link to its primary is ${r.get('master_link_status') ?? 'unknown'}: its data may be stale`);
        if (r.get('master_sync_in_progress') === '1') throw new TaskermanError('CHECK_FAILED', 'the replica is in a full sync with its primary: its data is incomplete');
        const io = Number(r.get('master_last_io_seconds_ago') ?? NaN);
        if (!(io <= c.max_master_io_seconds)) throw new TaskermanError('CHECK_FAILED', `the primary was last heard from ${r.get('master_last_io_seconds_ago')} s ago (at most ${c.max_master_io_seconds})`);
      }
      const s = await saveState(ep, ctx.signal);
      // A save this task started (checkpointed) may still run on a retry: execute waits for it.
      if (ctx.checkpoint.get(CP_LASTSAVE) === undefined && (s.inProgress || s.aofRewrite)) throw new TaskermanError('CHECK_FAILED', `a ${s.inProgress ? 'BGSAVE' : 'AOF rewrite'} is already running; BGSAVE would be refused`);
    },

    async execute(ctx) {
      const c = requireConfig(REDIS_BACKUP, config);
      const ep = await endpoint(c);
      const final = fileFor(c, ctx.taskId);
      if (await exists(final)) {
        const sha = await verifyPublished(final, ctx.signal).catch(() => undefined);
        if (sha) {
          ctx.logger.info({ file: final, sha256: sha }, 'already published by an earlier attempt: nothing to do');
          return;
        }
      }
      const timeoutMs = ctx.args.save_timeout_seconds * 1000;
      let s = await saveState(ep, ctx.signal);
      if (ctx.checkpoint.get(CP_LASTSAVE) !== undefined && (newerSave(s, ctx) || s.inProgress)) {
        ctx.logger.info({ in_progress: s.inProgress }, 'the BGSAVE of an earlier attempt is done or running: not starting another');
      } else {
        // LASTSAVE counts seconds: start the save in a later second than the last one, so that it shows.
        await pollUntil(async () => (Math.floor(Date.now() / 1000) > s.lastsave ? { done: true, value: undefined } : { done: false, seen: 'same second as the last save' }), { what: 'the next second', timeoutMs: 5000, intervalMs: 100, signal: ctx.signal });
        await ctx.checkpoint.set(CP_SAVES, s.saves ?? null);
        await ctx.checkpoint.set(CP_LASTSAVE, s.lastsave);
        throwIfAborted(ctx.signal, 'BGSAVE');
        const reply = await redisCall(ep, ['BGSAVE'], { signal: ctx.signal });
        ctx.logger.info({ reply, lastsave_before: s.lastsave, rdb_saves_before: s.saves }, 'BGSAVE');
      }
      s = await pollUntil(
        async () => {
          const now = await saveState(ep, ctx.signal);
          if (newerSave(now, ctx)) return { done: true, value: now };
          if (!now.inProgress && now.status === 'err' && (now.saves ?? 0) > (ctx.checkpoint.get<number | null>(CP_SAVES) ?? Infinity)) {
            throw new StopPolling(new TaskermanError('ACTION_FAILED', 'the BGSAVE failed (rdb_last_bgsave_status:err); see the Redis log (fork: Cannot allocate memory?)'));
          }
          return { done: false, seen: `in progress ${now.inProgress}, last status ${now.status}, lastsave ${now.lastsave}` };
        },
        { what: 'the BGSAVE to finish', timeoutMs, intervalMs: 250, signal: ctx.signal },
      );
      ctx.logger.info({ lastsave: s.lastsave, rdb_saves: s.saves }, 'BGSAVE done');

      const rdb = c.rdb_path ?? (await rdbPath(ep, ctx.signal));
      await mkdir(c.backup_dir, { recursive: true });
      await removePartial(final);
      const partial = partialName(final);
      await copyFile(rdb, partial);
      await runChecked([...c.verify_command, partial], { signal: ctx.signal, timeoutMs, errorCode: 'ACTION_FAILED' });
      const { sha256, bytes } = await publishFile(partial, final, ctx.signal);
      await ctx.checkpoint.set(CP_FILE, path.basename(final));
      ctx.logger.info({ file: final, sha256, bytes, source: rdb }, 'backup published');
      const removed = await pruneOldest(c.backup_dir, { prefix: 'redis-', suffix: '.rdb', keep: c.keep });
      if (removed.length > 0) ctx.logger.info({ removed }, 'older backups removed');
    },

    async postCheck(ctx) {
      const c = requireConfig(REDIS_BACKUP, config);
      const final = fileFor(c, ctx.taskId);
      const sha256 = await verifyPublished(final, ctx.signal);
      const s = await saveState(await endpoint(c), ctx.signal);
      if (ctx.checkpoint.get(CP_LASTSAVE) !== undefined && !(s.lastsave > (ctx.checkpoint.get<number>(CP_LASTSAVE) ?? Infinity))) {
        throw new TaskermanError('CHECK_FAILED', `LASTSAVE ${s.lastsave} did not advance past ${ctx.checkpoint.get<number>(CP_LASTSAVE)}`);
      }
      if (s.status !== 'ok') throw new TaskermanError('CHECK_FAILED', `rdb_last_bgsave_status is ${s.status}`);
      ctx.logger.info({ file: final, sha256, lastsave: s.lastsave }, 'backup verified');
    },
  });
}

async function rdbPath(ep: RedisEndpoint, signal: AbortSignal): Promise<string> {
  const get = async (key: string) => {
    const r = await redisCall(ep, ['CONFIG', 'GET', key], { signal });
    const v = Array.isArray(r) ? r[1] : undefined;
    if (typeof v !== 'string') throw new TaskermanError('ACTION_FAILED', `CONFIG GET ${key} gave no answer; set rdb_path in the runner config`, { retryable: false });
    return v;
  };
  return path.join(await get('dir'), await get('dbfilename'));
}
