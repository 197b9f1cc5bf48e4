// The web view's server (`taskerman ui`): a read-only page and its JSON, from ZooKeeper and the dead-letter
// queues, with live updates over server-sent events.
//
//   GET /                   the page (HTML; its CSS and script are served by this server, nothing external)
//   GET /app.js, /app.css
//   GET /api/overview       recent tasks, clusters (grants, waiting requests, live runners), dead letters
//   GET /api/tasks/<id>     one task with its nodes and every attempt
//   GET /events?view=overview | view=task&task=<id>   SSE: a `snapshot` event with the view's JSON whenever it changes
//   GET /healthz
//
// One reader per distinct view, shared by every browser that shows it: it reads, sends to its subscribers
// only when the JSON changed, then waits — on a ZooKeeper watch of the task for a task view (bounded by
// `pollMs`), or `pollMs` for the overview — and stops when its last subscriber goes. Dead letters are read
// every `deadLetterRefreshMs` (a scan of the dead-letter queues), never per request.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { delay } from '../core/delay.js';
import { describeError, OptionError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { isValidTaskId } from '../core/task/task.js';
import { TaskWatch } from '../core/task/task-watch.js';
import { readClusters, readDeadLetters, readTaskDetail, readTaskList, type DeadLetterJson, type UiSources } from './ui-data.js';
import { APP_CSS, APP_JS, INDEX_HTML } from './ui-page.js';

export interface UiServerOptions extends UiSources {
  logger: Logger;
  /** 0 picks a free port (tests). Default 8080. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Longest wait between two reads of a view. Default 1 s. */
  pollMs?: number;
  /** How often the dead-letter queues are scanned. Default 30 s. */
  deadLetterRefreshMs?: number;
  /** Tasks in the overview. Default 50. */
  recentTasks?: number;
}

interface View {
  key: string;
  subscribers: Set<ServerResponse>;
  last: string | undefined;
  lastKey: string | undefined;
  stop: AbortController;
  done: Promise<void>;
}

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

export class UiServer {
  private readonly o: Required<Omit<UiServerOptions, keyof UiSources>> & UiSources;
  private server: Server | undefined;
  private readonly views = new Map<string, View>();
  private deadLetters: { at: string | null; items: DeadLetterJson[]; error: string | null } = { at: null, items: [], error: null };
  private readonly ac = new AbortController();
  private dlqLoop: Promise<void> | undefined;

  constructor(opts: UiServerOptions) {
    this.o = { port: 8080, host: '127.0.0.1', pollMs: 1000, deadLetterRefreshMs: 30_000, recentTasks: 50, ...opts };
    if (!Number.isInteger(this.o.port) || this.o.port < 0 || this.o.port > 65_535) throw new OptionError('port', `${this.o.port} must be a port number from 1 to 65535`);
  }

  get url(): string {
    const a = this.server?.address() as AddressInfo | null | undefined;
    if (!a) throw new Error('ui server not started');
    return `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.route(req, res));
    const s = this.server;
    await new Promise<void>((resolve, reject) => {
      s.once('error', (err) => reject(new OptionError('port', `cannot listen on ${this.o.host}:${this.o.port}: ${err.message}`, { cause: err })));
      s.listen(this.o.port, this.o.host, () => resolve());
    });
    this.dlqLoop = this.refreshDeadLettersForever();
    this.o.logger.info({ url: this.url }, 'web view served');
  }

  async stop(): Promise<void> {
    this.ac.abort();
    for (const v of this.views.values()) {
      v.stop.abort();
      for (const r of v.subscribers) r.end();
    }
    await Promise.allSettled([...this.views.values()].map((v) => v.done));
    this.views.clear();
    await this.dlqLoop;
    const s = this.server;
    this.server = undefined;
    if (s) {
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
  }

  private async refreshDeadLettersForever(): Promise<void> {
    while (!this.ac.signal.aborted) {
      try {
        this.deadLetters = { at: new Date().toISOString(), items: await readDeadLetters(this.o), error: null };
      } catch (err) {
        this.deadLetters = { ...this.deadLetters, error: describeError(err) };
        this.o.logger.warn({ err: describeError(err) }, 'reading the dead-letter queues failed');
      }
      await delay(this.o.deadLetterRefreshMs, this.ac.signal);
    }
  }

  private async overview() {
    const [tasks, clusters] = await Promise.all([readTaskList(this.o, this.o.recentTasks), readClusters(this.o)]);
    return { view: 'overview', now: new Date().toISOString(), tasks, clusters, dead_letters: this.deadLetters.items, dead_letters_read_at: this.deadLetters.at, dead_letters_error: this.deadLetters.error };
  }

  private async taskView(taskId: string) {
    const [detail, clusters] = await Promise.all([readTaskDetail(this.o, taskId), readClusters(this.o)]);
    if (!detail) return { view: 'task', task_id: taskId, now: new Date().toISOString(), missing: true };
    const cluster = detail.task.cluster;
    return { view: 'task', ...detail, cluster: clusters.find((c) => c.cluster === cluster) ?? null, dead_letters: this.deadLetters.items.filter((d) => d.task_id === taskId) };
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method !== 'GET' && req.method !== 'HEAD') return void res.writeHead(405, { allow: 'GET, HEAD' }).end();
    try {
      switch (url.pathname) {
        case '/':
          return void res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/html; charset=utf-8' }).end(INDEX_HTML);
        case '/app.js':
          return void res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/javascript; charset=utf-8' }).end(APP_JS);
        case '/app.css':
          return void res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/css; charset=utf-8' }).end(APP_CSS);
        case '/healthz':
          return void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
        case '/api/overview':
          return this.json(res, 200, await this.overview());
        case '/events':
          return this.subscribe(req, res, url);
      }
      const m = /^\/api\/tasks\/([^/]+)$/.exec(url.pathname);
      if (m) {
        const id = decodeURIComponent(m[1] as string);
        if (!isValidTaskId(id)) return this.json(res, 400, { error: `"${id}" is not a task id` });
        const v = await this.taskView(id);
        return this.json(res, 'missing' in v ? 404 : 200, v);
      }
      this.json(res, 404, { error: `no such page: ${url.pathname}` });
    } catch (err) {
      this.o.logger.warn({ err: describeError(err), path: url.pathname }, 'web view request failed');
      if (!res.headersSent) this.json(res, 503, { error: describeError(err) });
      else res.end();
    }
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'application/json' }).end(JSON.stringify(body));
  }

  private subscribe(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const view = url.searchParams.get('view') ?? 'overview';
    const taskId = url.searchParams.get('task') ?? '';
    if (view !== 'overview' && view !== 'task') return this.json(res, 400, { error: 'view must be overview or task' });
    if (view === 'task' && !isValidTaskId(taskId)) return this.json(res, 400, { error: `task: "${taskId}" is not a task id` });
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write('retry: 2000\n\n');
    const key = view === 'task' ? `task:${taskId}` : 'overview';
    let v = this.views.get(key);
    if (!v) {
      const created: View = { key, subscribers: new Set(), last: undefined, lastKey: undefined, stop: new AbortController(), done: Promise.resolve() };
      created.done = this.follow(created, view === 'task' ? taskId : undefined);
      this.views.set(key, created);
      v = created;
    } else if (v.last) {
      res.write(v.last);
    }
    const sub = v;
    sub.subscribers.add(res);
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
    req.on('close', () => {
      clearInterval(keepAlive);
      sub.subscribers.delete(res);
      if (sub.subscribers.size === 0) {
        sub.stop.abort();
        this.views.delete(sub.key);
      }
    });
  }

  /** Reads a view until nobody watches it; sends each change to its subscribers. */
  private async follow(v: View, taskId: string | undefined): Promise<void> {
    const signal = v.stop.signal;
    const watch = taskId ? new TaskWatch(this.o.store, taskId) : undefined;
    try {
      while (!signal.aborted) {
        try {
          await watch?.start();
          const view: Record<string, unknown> = taskId ? await this.taskView(taskId) : await this.overview();
          // Sent only when something other than the clock changed (the page keeps its own clock between snapshots).
          const { now: _now, dead_letters_read_at: _read, ...content } = view;
          const key = JSON.stringify(content);
          if (key !== v.lastKey) {
            v.lastKey = key;
            v.last = `event: snapshot\ndata: ${JSON.stringify(view)}\n\n`;
            for (const r of v.subscribers) r.write(v.last);
          }
        } catch (err) {
          this.o.logger.warn({ err: describeError(err), view: v.key }, 'reading a view failed; trying again');
          for (const r of v.subscribers) r.write(`event: problem\ndata: ${JSON.stringify({ error: describeError(err) })}\n\n`);
        }
        if (watch) await watch.next(this.o.pollMs, signal);
        else await delay(this.o.pollMs, signal);
      }
    } finally {
      watch?.stop();
    }
  }
}
