// A Coordinator wrapper that runs a test's step just before a chosen call reaches the real session: the way
// to put another actor's write exactly between a reader's read and its guarded write, on any adapter,
// without timing.
import type { Coordinator, CreateMode, NodeData, SessionState, Stat, TxOp, Watcher } from '../../core/coordination/coordinator.js';

export interface Call {
  method: 'create' | 'get' | 'exists' | 'set' | 'remove' | 'children' | 'transaction';
  path: string;
  /** The ops of a transaction; the data of a set, as one 'set' op. */
  ops: TxOp[];
}

interface Hook {
  when: (call: Call) => boolean;
  run: () => Promise<void>;
  fired: boolean;
}

/** Parses the JSON a set op writes (undefined when it is not JSON). */
export function written(op: TxOp): Record<string, unknown> | undefined {
  if (op.op !== 'set') return undefined;
  try {
    return JSON.parse(op.data.toString('utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

export class InterleavedCoordinator implements Coordinator {
  private readonly hooks: Hook[] = [];
  /** Every call made through this wrapper, in order (a test counts the requests a step costs). */
  readonly calls: Call[] = [];

  constructor(private readonly inner: Coordinator) {}

  /** Before the first call matching `when`, runs `run` (once) and then lets the call through. */
  once(when: (call: Call) => boolean, run: () => Promise<void>): { readonly fired: boolean } {
    const h: Hook = { when, run, fired: false };
    this.hooks.push(h);
    return h;
  }

  private async before(call: Call): Promise<void> {
    this.calls.push(call);
    for (const h of this.hooks) {
      if (h.fired || !h.when(call)) continue;
      h.fired = true;
      await h.run();
    }
  }

  get sessionId(): string {
    return this.inner.sessionId;
  }
  async create(path: string, data?: Buffer, mode?: CreateMode): Promise<string> {
    await this.before({ method: 'create', path, ops: [{ op: 'create', path, ...(data ? { data } : {}), ...(mode ? { mode } : {}) }] });
    return this.inner.create(path, data, mode);
  }
  mkdirp(path: string): Promise<void> {
    return this.inner.mkdirp(path);
  }
  async get(path: string, watch?: Watcher): Promise<NodeData | undefined> {
    await this.before({ method: 'get', path, ops: [] });
    return this.inner.get(path, watch);
  }
  async exists(path: string, watch?: Watcher): Promise<Stat | undefined> {
    await this.before({ method: 'exists', path, ops: [] });
    return this.inner.exists(path, watch);
  }
  async set(path: string, data: Buffer, version: number): Promise<Stat> {
    await this.before({ method: 'set', path, ops: [{ op: 'set', path, data, version }] });
    return this.inner.set(path, data, version);
  }
  async remove(path: string, version?: number): Promise<void> {
    await this.before({ method: 'remove', path, ops: [{ op: 'remove', path, version: version ?? -1 }] });
    return this.inner.remove(path, version);
  }
  removeRecursive(path: string): Promise<void> {
    return this.inner.removeRecursive(path);
  }
  async children(path: string, watch?: Watcher): Promise<string[] | undefined> {
    await this.before({ method: 'children', path, ops: [] });
    return this.inner.children(path, watch);
  }
  async transaction(ops: TxOp[]): Promise<void> {
    await this.before({ method: 'transaction', path: ops[0]?.path ?? '/', ops });
    return this.inner.transaction(ops);
  }
  onSessionState(listener: (state: SessionState) => void): () => void {
    return this.inner.onSessionState(listener);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
