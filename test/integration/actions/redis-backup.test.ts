// redis:backup against real redis-server processes: a primary and a streaming replica. The backup runs on
// the replica, refuses on the primary, and produces an RDB that a fresh server loads with the same keys.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRedisBackupAction } from '../../../actions/redis/backup.js';
import { redisBackupConfigSchema } from '../../../actions/redis/backup.js';
import { redisCall } from '../../../actions/redis/resp.js';
import { pollUntil } from '../../../actions/kit/poll.js';
import { actionContext, runSteps } from '../../support/action-context.js';
import { redisAvailable, startRedis, type RedisServer } from '../../support/redis-server.js';
import { requireBinary } from '../../support/processes.js';

const KEYS = 500;
const signal = new AbortController().signal;

describe('redis:backup (real redis-server: primary + replica)', function () {
  this.timeout(120_000);
  let primary: RedisServer | undefined;
  let replica: RedisServer | undefined;
  let fresh: RedisServer | undefined;
  let backupDir: string;

  before(async function () {
    requireBinary(this, redisAvailable(), 'redis-server');
    primary = await startRedis();
    replica = await startRedis({ replicaOf: primary.port });
    for (let i = 0; i < KEYS; i++) await redisCall({ host: '127.0.0.1', port: primary.port }, ['SET', `key:${i}`, `value-${i}`], { signal });
    await pollUntil(
      async () => {
        const n = await redisCall({ host: '127.0.0.1', port: replica!.port }, ['DBSIZE'], { signal });
        return n === KEYS ? { done: true, value: undefined } : { done: false, seen: `${String(n)} keys on the replica` };
      },
      { what: 'the replica to catch up', timeoutMs: 30_000, intervalMs: 100, signal },
    );
  });
  beforeEach(() => (backupDir = mkdtempSync(join(tmpdir(), 'taskerman-redis-backup-'))));
  afterEach(async () => {
    await fresh?.stop();
    fresh = undefined;
    rmSync(backupDir, { recursive: true, force: true });
  });
  after(async () => {
    await replica?.stop();
    await primary?.stop();
  });

  const actionFor = (port: number) => createRedisBackupAction(redisBackupConfigSchema.parse({ port, backup_dir: backupDir, keep: 3 }));

  it('backs up the replica; a fresh server loads the RDB with the same keys', async () => {
    const action = actionFor(replica!.port);
    const ctx = actionContext(action, { save_timeout_seconds: 60 }, { taskId: 'nightly-1' });
    await runSteps(action, ctx);
    const files = readdirSync(backupDir).sort();
    assert.deepEqual(files, ['redis-nightly-1.rdb', 'redis-nightly-1.rdb.sha256']);
    const freshDir = mkdtempSync(join(tmpdir(), 'taskerman-redis-fresh-'));
    copyFileSync(join(backupDir, 'redis-nightly-1.rdb'), join(freshDir, 'dump.rdb'));
    fresh = await startRedis({ dir: freshDir });
    const ep = { host: '127.0.0.1', port: fresh.port };
    assert.equal(await redisCall(ep, ['DBSIZE'], { signal }), KEYS);
    for (const i of [0, 137, KEYS - 1]) assert.equal(await redisCall(ep, ['GET', `key:${i}`], { signal }), `value-${i}`);
  });

  it('is idempotent: a second run of the same task finds the backup published and saves nothing again', async () => {
    const action = actionFor(replica!.port);
    const stored: Record<string, unknown> = {};
    await runSteps(action, actionContext(action, {}, { taskId: 'nightly-2', stored }));
    const ep = { host: '127.0.0.1', port: replica!.port };
    const lastsave = await redisCall(ep, ['LASTSAVE'], { signal });
    const mtime = statSync(join(backupDir, 'redis-nightly-2.rdb')).mtimeMs;
    await runSteps(action, actionContext(action, {}, { taskId: 'nightly-2', stored, attempt: 2 }));
    assert.equal(await redisCall(ep, ['LASTSAVE'], { signal }), lastsave, 'no second BGSAVE');
    assert.equal(statSync(join(backupDir, 'redis-nightly-2.rdb')).mtimeMs, mtime);
  });

  it('refuses on the primary, before any save', async () => {
    const action = actionFor(primary!.port);
    const ep = { host: '127.0.0.1', port: primary!.port };
    const lastsave = await redisCall(ep, ['LASTSAVE'], { signal });
    await assert.rejects(action.preCheck!(actionContext(action, {})), (e: Error & { retryable?: boolean }) => /is a master, not a replica/.test(e.message) && e.retryable === false);
    assert.equal(await redisCall(ep, ['LASTSAVE'], { signal }), lastsave);
  });

  it('refuses on a replica whose link to the primary is down', async () => {
    const orphan = await startRedis();
    const port = orphan.port;
    try {
      // A replica of a primary that is not there: its link never comes up.
      await redisCall({ host: '127.0.0.1', port }, ['REPLICAOF', '127.0.0.1', '1'], { signal });
      const action = actionFor(port);
      await assert.rejects(action.preCheck!(actionContext(action, {})), /link to its primary is (down|connect|connecting)/);
    } finally {
      await orphan.stop();
    }
  });

  it('a post_check catches a published file that no longer matches its checksum', async () => {
    const action = actionFor(replica!.port);
    const stored: Record<string, unknown> = {};
    const ctx = actionContext(action, {}, { taskId: 'nightly-3', stored });
    await action.execute(ctx);
    copyFileSync(join(backupDir, 'redis-nightly-3.rdb.sha256'), join(backupDir, 'redis-nightly-3.rdb'));
    await assert.rejects(action.postCheck!(ctx), /does not match its checksum/);
  });
});
