// A Coordinator that counts what goes to ZooKeeper: requests by kind, bytes written (znode data in creates,
// sets and transactions) and bytes read, the largest single request, the requests that failed (by kind and
// error code: a BAD_VERSION is a lost compare-and-set race) and the time spent waiting for answers, by kind.
// Benchmarks only.
import { performance } from 'node:perf_hooks';
import { CoordinatorError, type Coordinator, type CreateMode, type NodeData, type SessionState, type Stat, type TxOp, type Watcher } from '../core/coordination/coordinator.js';

/** What a znode is, from its path (the record kinds of core/coordination/zk-paths.ts), for failure counts. */
export function pathKind(path: string | undefined): string {
  if (!path) return '?';
  const parts = path.split('/');
  const last = parts.at(-1) ?? '';
  const parent = parts.at(-2) ?? '';
  if (parent === 'progress') return 'progress shard';
  if (['tasks', 'nodes', 'grants', 'requests', 'members', 'keepers', 'targets'].includes(parent)) return parent.replace(/s$/, '');
  return last;
}

export class CountingCoordinator implements Coordinator {
  readonly requests = new Map<string, number>();
  /** Requests by "<kind> <record kind>" (pathKind of the first path), e.g. "get task": which records cost what. */
  readonly byRecord = new Map<string, number>();
  /** Failed requests by "<kind> <code>", e.g. "multi BAD_VERSION". */
  readonly failures = new Map<string, number>();
  /** Milliseconds from request to answer, summed by kind (divide by `requests` for a mean). */
  readonly waitMs = new Map<string, number>();
  bytesWritten = 0;
  bytesRead = 0;
  /** Largest request sent, in bytes of data plus paths (a lower bound of its size on the wire). */
  largestRequest = 0;

  constructor(private readonly inner: Coordinator) {}

  private count(kind: string, bytes: number, path: string | undefined): void {
    this.requests.set(kind, (this.requests.get(kind) ?? 0) + 1);
    const rec = `${kind} ${pathKind(path)}`;
    this.byRecord.set(rec, (this.byRecord.get(rec) ?? 0) + 1);
    this.largestRequest = Math.max(this.largestRequest, bytes);
  }

  /** Times `p`, the request of `kind`, and counts it as failed (with its code) when it rejects. */
  private async timed<T>(kind: string, p: Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await p;
    } catch (err) {
      const key = err instanceof CoordinatorError ? `${kind} ${err.code} on ${pathKind(err.path)}` : `${kind} ERROR`;
      this.failures.set(key, (this.failures.get(key) ?? 0) + 1);
      throw err;
    } finally {
      this.waitMs.set(kind, (this.waitMs.get(kind) ?? 0) + performance.now() - t0);
    }
  }

  reset(): void {
    this.requests.clear();
    this.byRecord.clear();
    this.failures.clear();
    this.waitMs.clear();
    this.bytesWritten = 0;
    this.bytesRead = 0;
    this.largestRequest = 0;
  }

  get total(): number {
    return [...this.requests.values()].reduce((a, b) => a + b, 0);
  }

  get sessionId(): string {
    return this.inner.sessionId;
  }
  create(path: string, data?: Buffer, mode?: CreateMode): Promise<string> {
    this.bytesWritten += data?.length ?? 0;
    this.count('create', (data?.length ?? 0) + path.length, path);
    return this.timed('create', this.inner.create(path, data, mode));
  }
  mkdirp(path: string): Promise<void> {
    this.count('mkdirp', path.length, path);
    return this.timed('mkdirp', this.inner.mkdirp(path));
  }
  async get(path: string, watch?: Watcher): Promise<NodeData | undefined> {
    this.count('get', path.length, path);
    const d = await this.timed('get', this.inner.get(path, watch));
    this.bytesRead += d?.data.length ?? 0;
    return d;
  }
  exists(path: string, watch?: Watcher): Promise<Stat | undefined> {
    this.count('exists', path.length, path);
    return this.timed('exists', this.inner.exists(path, watch));
  }
  set(path: string, data: Buffer, version: number): Promise<Stat> {
    this.bytesWritten += data.length;
    this.count('set', data.length + path.length, path);
    return this.timed('set', this.inner.set(path, data, version));
  }
  remove(path: string, version?: number): Promise<void> {
    this.count('remove', path.length, path);
    return this.timed('remove', this.inner.remove(path, version));
  }
  removeRecursive(path: string): Promise<void> {
    this.count('removeRecursive', path.length, path);
    return this.timed('removeRecursive', this.inner.removeRecursive(path));
  }
  async children(path: string, watch?: Watcher): Promise<string[] | undefined> {
    this.count('children', path.length, path);
    const kids = await this.timed('children', this.inner.children(path, watch));
    this.bytesRead += (kids ?? []).reduce((n, k) => n + k.length + 4, 0);
    return kids;
  }
  transaction(ops: TxOp[]): Promise<void> {
    let bytes = 0;
    for (const op of ops) {
      const data = op.op === 'create' || op.op === 'set' ? (op.data?.length ?? 0) : 0;
      this.bytesWritten += data;
      bytes += data + op.path.length + 16;
    }
    this.count('multi', bytes, ops.find((o) => o.op !== 'check')?.path);
    return this.timed('multi', this.inner.transaction(ops));
  }
  onSessionState(listener: (state: SessionState) => void): () => void {
    return this.inner.onSessionState(listener);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
