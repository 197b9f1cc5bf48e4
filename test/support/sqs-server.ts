// The SQS-protocol test server: fauxqs, in this process, on a free loopback port (127.0.0.1 only; fauxqs's
// own `startFauxqs()` binds every interface). All state is in memory and goes with `stop()`.
//
// fauxqs answers with queue URLs like http://sqs.<region>.localhost:<port>/000000000000/<name> (account fixed,
// region taken from the request signature, host "localhost" unless configured), which need not resolve here:
// clients must send every request to `endpoint` (SqsWorkQueue sets `useQueueUrlAsEndpoint: false`).
import type { AddressInfo } from 'node:net';
import { buildApp } from 'fauxqs';

export interface SqsServer {
  /** e.g. http://127.0.0.1:41234 */
  endpoint: string;
  port: number;
  stop(): Promise<void>;
}

export async function startSqsServer(): Promise<SqsServer> {
  const app = buildApp({ logger: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  let stopping: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    // Closing also ends the long polls still parked on the server (fauxqs cancels its waiters on close).
    stop: () => (stopping ??= app.close().then(() => undefined)),
  };
}
