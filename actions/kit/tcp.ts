// A local TCP exchange: connect, send a request, read the answer until the server closes the connection
// (ZooKeeper's four-letter words) or until `complete` says the answer is whole (a request/response protocol
// such as Redis's RESP), within a timeout and the action's abort signal, with a bound on what is read.
import net from 'node:net';
import { AbortedError, TaskermanError, TimeoutError } from '../../core/errors.js';

export interface TcpExchangeOptions {
  host: string;
  port: number;
  /** Bytes to send once connected. */
  send: string | Buffer;
  signal: AbortSignal;
  /** Connect + answer within this long (ms); default 5 000. */
  timeoutMs?: number;
  /** Stop reading when this returns true for what was read so far; default: read until the peer closes. */
  complete?: (received: Buffer) => boolean;
  /** Refuse answers larger than this; default 4 MiB. */
  maxBytes?: number;
}

export const DEFAULT_TCP_TIMEOUT_MS = 5_000;
const DEFAULT_MAX_BYTES = 4 << 20;

/** Resolves with the answer; rejects with a TaskermanError naming host:port (refused, reset, timeout, too big). */
export function tcpExchange(o: TcpExchangeOptions): Promise<Buffer> {
  const where = `${o.host}:${o.port}`;
  const timeoutMs = o.timeoutMs ?? DEFAULT_TCP_TIMEOUT_MS;
  const max = o.maxBytes ?? DEFAULT_MAX_BYTES;
  return new Promise((resolve, reject) => {
    if (o.signal.aborted) return reject(new AbortedError(`not connecting to ${where}`, { cause: o.signal.reason }));
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const sock = net.connect({ host: o.host, port: o.port });
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      o.signal.removeEventListener('abort', onAbort);
      sock.destroy();
      if (err) reject(err);
      else resolve(Buffer.concat(chunks));
    };
    const onAbort = () => finish(new AbortedError(`stopped talking to ${where}`, { cause: o.signal.reason }));
    const timer = setTimeout(() => finish(new TimeoutError(`${where} did not answer within ${timeoutMs} ms`)), timeoutMs);
    o.signal.addEventListener('abort', onAbort, { once: true });
    sock.on('connect', () => sock.write(o.send));
    sock.on('data', (d: Buffer) => {
      chunks.push(d);
      size += d.length;
      if (size > max) return finish(new TaskermanError('ACTION_FAILED', `${where} answered more than ${max} bytes`));
      if (o.complete?.(Buffer.concat(chunks))) finish();
    });
    sock.on('error', (e: NodeJS.ErrnoException) => finish(new TaskermanError('ACTION_FAILED', `${where}: ${e.code ?? e.message}`, { cause: e })));
    sock.on('close', () => {
      if (o.complete && !o.complete(Buffer.concat(chunks))) return finish(new TaskermanError('ACTION_FAILED', `${where} closed the connection before a whole answer`));
      finish();
    });
  });
}
