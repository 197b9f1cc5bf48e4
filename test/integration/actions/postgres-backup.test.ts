// postgres:backup against real PostgreSQL 15 servers: a primary and a streaming replica. The backup runs on
// the replica and refuses on the primary; the dump restores into a fresh database with the same row counts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPostgresBackupAction, postgresBackupConfigSchema } from '../../../actions/postgres/backup.js';
import { pgQuery, type PgConnection } from '../../../actions/postgres/psql.js';
import { pollUntil } from '../../../actions/kit/poll.js';
import { actionContext, runSteps } from '../../support/action-context.js';
import { PG_BIN, postgresAvailable, startPrimaryAndReplica, type PgServer } from '../../support/pg-server.js';
import { requireBinary } from '../../support/processes.js';

const signal = new AbortController().signal;
const conn = (port: number): PgConnection => ({ host: '127.0.0.1', port, user: 'postgres', binDir: PG_BIN });
const counts = async (port: number, db: string) => (await pgQuery(conn(port), db, 'SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM orders), (SELECT sum(amount) FROM orders)', { signal }))[0];

describe('postgres:backup (real PostgreSQL 15: primary + streaming replica)', function () {
  this.timeout(240_000);
  let servers: { primary: PgServer; replica: PgServer; stop(): Promise<void> } | undefined;
  let backupDir: string;

  before(async function () {
    requireBinary(this, postgresAvailable(), 'postgresql');
    servers = await startPrimaryAndReplica();
    const p = servers.primary.port;
    await pgQuery(conn(p), 'postgres', 'CREATE DATABASE app', { signal });
    await pgQuery(conn(p), 'app', 'CREATE TABLE customers (id int PRIMARY KEY, name text); INSERT INTO customers SELECT g, $$c$$ || g FROM generate_series(1, 50) g', { signal });
    await pgQuery(conn(p), 'app', 'CREATE TABLE orders (id int PRIMARY KEY, customer int REFERENCES customers, amount numeric); INSERT INTO orders SELECT g, 1 + g % 50, g * 1.5 FROM generate_series(1, 1000) g', { signal });
    const want = await counts(p, 'app');
    await pollUntil(
      async () => {
        const got = await counts(servers!.replica.port, 'app');
        return JSON.stringify(got) === JSON.stringify(want) ? { done: true, value: undefined } : { done: false, seen: JSON.stringify(got) };
      },
      { what: 'the replica to replay the test data', timeoutMs: 60_000, intervalMs: 200, signal },
    );
  });
  beforeEach(() => (backupDir = mkdtempSync(join(tmpdir(), 'taskerman-pg-backup-'))));
  afterEach(() => rmSync(backupDir, { recursive: true, force: true }));
  after(async () => servers?.stop());

  const actionFor = (port: number) => createPostgresBackupAction(postgresBackupConfigSchema.parse({ host: '127.0.0.1', port, databases: ['app'], backup_dir: backupDir, bin_dir: PG_BIN }));

  it('dumps on the replica; the dump restores into a fresh database with the same row counts', async () => {
    const action = actionFor(servers!.replica.port);
    await runSteps(action, actionContext(action, {}, { taskId: 'nightly-1' }));
    assert.deepEqual(readdirSync(backupDir).sort(), ['app-nightly-1.dump', 'app-nightly-1.dump.sha256']);
    const p = servers!.primary.port;
    await pgQuery(conn(p), 'postgres', 'CREATE DATABASE restored', { signal });
    const r = spawnSync(join(PG_BIN, 'pg_restore'), ['-h', '127.0.0.1', '-p', String(p), '-U', 'postgres', '-d', 'restored', '--no-owner', join(backupDir, 'app-nightly-1.dump')], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(await counts(p, 'restored'), await counts(p, 'app'));
    assert.deepEqual(await counts(p, 'restored'), ['50', '1000', '750750.0']);
  });

  it('is idempotent: a retried attempt of the same task keeps the published dump', async () => {
    const action = actionFor(servers!.replica.port);
    await runSteps(action, actionContext(action, {}, { taskId: 'nightly-2' }));
    const file = join(backupDir, 'app-nightly-2.dump');
    const mtime = statSync(file).mtimeMs;
    await runSteps(action, actionContext(action, {}, { taskId: 'nightly-2', attempt: 2 }));
    assert.equal(statSync(file).mtimeMs, mtime);
  });

  it('refuses on the primary, and refuses a database the server does not have', async () => {
    const onPrimary = actionFor(servers!.primary.port);
    await assert.rejects(onPrimary.preCheck!(actionContext(onPrimary, {})), (e: Error & { retryable?: boolean }) => /is not in recovery: this node is a primary/.test(e.message) && e.retryable === false);
    const missing = createPostgresBackupAction(postgresBackupConfigSchema.parse({ host: '127.0.0.1', port: servers!.replica.port, databases: ['app', 'nope'], backup_dir: backupDir, bin_dir: PG_BIN }));
    await assert.rejects(missing.preCheck!(actionContext(missing, {})), /databases not on this server: nope/);
    assert.deepEqual(readdirSync(backupDir), []);
  });
});
