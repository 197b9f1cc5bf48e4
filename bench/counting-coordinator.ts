// A Coordinator that counts what goes to ZooKeeper: requests by kind, bytes written (znode data in creates,
// sets and transactions) and bytes read, and the largest single request. Benchmarks only.
import type { Coordinator, CreateMode, NodeData, SessionState, Stat, TxOp, Watcher } from '../core/coordination/coordinator.js';

export class CountingCoordinator implements Coordinator {
  readonly requests = new Map<string, number>();
  bytesWritten = 0;
  bytesRead = 0;
  /** Largest request sent, in bytes of data plus paths (a lower bound of its size on the wire). */
  largestRequest = 0;

  constructor(private readonly inner: Coordinator) {}

  private count(kind: string, bytes = 0): void {
    this.requests.set(kind, (this.requests.get(kind) ?? 0) + 1);
    this.largestRequest = Math.max(this.largestRequest, bytes);
  }

  reset(): void {
    this.requests.clear();
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
    this.count('create', (data?.length ?? 0) + path.length);
    return this.inner.create(path, data, mode);
  }
  mkdirp(path: string): Promise<void> {
    this.count('mkdirp', path.length);
    return this.inner.mkdirp(path);
  }
  async get(path: string, watch?: Watcher): Promise<NodeData | undefined> {
    this.count('get', path.length);
    const d = await this.inner.get(path, watch);
    this.bytesRead += d?.data.length ?? 0;
    return d;
  }
  exists(path: string, watch?: Watcher): Promise<Stat | undefined> {
    this.count('exists', path.length);
    return this.inner.exists(path, watch);
  }
  set(path: string, data: Buffer, version: number): Promise<Stat> {
    this.bytesWritten += data.length;
    this.count('set', data.length + path.length);
    return this.inner.set(path, data, version);
  }
  remove(path: string, version?: number): Promise<void> {
    this.count('remove', path.length);
    return this.inner.remove(path, version);
  }
  removeRecursive(path: string): Promise<void> {
    this.count('removeRecursive', path.length);
    return this.inner.removeRecursive(path);
  }
  async children(path: string, watch?: Watcher): Promise<string[] | undefined> {
    this.count('children', path.length);
    const kids = await this.inner.children(path, watch);
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
    this.count('multi', bytes);
    return this.inner.transaction(ops);
  }
  onSessionState(listener: (state: SessionState) => void): () => void {
    return this.inner.onSessionState(listener);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
