// A webhook receiver on loopback for notification tests: records every POST body; answers 200, a status
// from a script, or never (to prove that a hanging receiver does not hold up the work).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export class WebhookReceiver {
  readonly bodies: Array<Record<string, unknown>> = [];
  /** Requests received and not answered (hang mode). */
  readonly held: ServerResponse[] = [];
  /** Statuses to answer with, in order, before answering 200. */
  script: number[] = [];
  hang = false;
  private server: Server | undefined;

  async start(): Promise<string> {
    this.server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        try {
          this.bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>);
        } catch {
          this.bodies.push({ unparsable: true });
        }
        if (this.hang) {
          this.held.push(res);
          return;
        }
        res.writeHead(this.script.shift() ?? 200).end('ok');
      });
    });
    const s = this.server;
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(s.address() as AddressInfo).port}/hook`;
  }

  async stop(): Promise<void> {
    const s = this.server;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
