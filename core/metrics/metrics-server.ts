// The /metrics endpoint: a small HTTP server that renders the process's registry for Prometheus. Off unless
// a port is given; binds to loopback unless told otherwise (metrics name clusters and queues). `/healthz`
// answers 200 while the process runs, for a load balancer or systemd's watchdog scripts.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { OptionError } from '../errors.js';
import type { Logger } from '../logger.js';

export interface MetricsServerOptions {
  registry: Registry;
  /** 0 picks a free port (tests). */
  port: number;
  /** Default 127.0.0.1. */
  host?: string;
  logger?: Logger;
  /** Called before each scrape (refresh what is cheap to refresh). */
  beforeScrape?: () => Promise<void>;
}

export class MetricsServer {
  private server: Server | undefined;
  constructor(private readonly o: MetricsServerOptions) {
    if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65_535) throw new OptionError('metrics-port', `${o.port} must be a port number from 1 to 65535`);
  }

  /** The address it listens on, once started. */
  get url(): string {
    const a = this.server?.address() as AddressInfo | null | undefined;
    if (!a) throw new Error('metrics server not started');
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    return `http://${host}:${a.port}`;
  }

  async start(): Promise<void> {
    const { registry } = this.o;
    this.server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
        return;
      }
      if (path === '/healthz') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
        return;
      }
      if (path !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics\n');
        return;
      }
      void (async () => {
        try {
          await this.o.beforeScrape?.();
          const body = await registry.metrics();
          res.writeHead(200, { 'content-type': registry.contentType }).end(body);
        } catch (err) {
          this.o.logger?.warn({ err: String(err) }, 'metrics scrape failed');
          res.writeHead(500, { 'content-type': 'text/plain' }).end(`scrape failed: ${String(err)}\n`);
        }
      })();
    });
    const server = this.server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new OptionError('metrics-port', `cannot listen on ${this.o.host ?? '127.0.0.1'}:${this.o.port}: ${err.message}`, { cause: err })));
      server.listen(this.o.port, this.o.host ?? '127.0.0.1', () => resolve());
    });
    this.o.logger?.info({ url: `${this.url}/metrics` }, 'metrics served');
  }

  async stop(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = undefined;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
