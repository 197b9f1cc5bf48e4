// A minimal Redis client for admin commands (INFO, ROLE, BGSAVE, LASTSAVE, CONFIG GET): one connection per
// call, RESP2 encoding, AUTH first when a password is configured. Enough for an action to read and poke a
// local server without a driver dependency; not a general client (no pipelining, no pub/sub).
import { TaskermanError } from '../../core/errors.js';
import { tcpExchange } from '../kit/tcp.js';

export type RespValue = string | number | null | RespValue[] | RespError;

export class RespError {
  constructor(readonly message: string) {}
}

export function encodeCommand(args: readonly string[]): Buffer {
  const parts = [`*${args.length}\r\n`];
  for (const a of args) parts.push(`$${Buffer.byteLength(a)}\r\n${a}\r\n`);
  return Buffer.from(parts.join(''));
}

/** Parses one reply at `pos`; undefined when the buffer does not hold all of it yet. */
export function parseReply(buf: Buffer, pos = 0): { value: RespValue; end: number } | undefined {
  const eol = buf.indexOf('\r\n', pos);
  if (eol < 0) return undefined;
  const type = String.fromCharCode(buf[pos] ?? 0);
  const line = buf.toString('utf8', pos + 1, eol);
  const next = eol + 2;
  switch (type) {
    case '+':
      return { value: line, end: next };
    case '-':
      return { value: new RespError(line), end: next };
    case ':':
      return { value: Number(line), end: next };
    case '$': {
      const len = Number(line);
      if (len < 0) return { value: null, end: next };
      if (buf.length < next + len + 2) return undefined;
      return { value: buf.toString('utf8', next, next + len), end: next + len + 2 };
    }
    case '*': {
      const n = Number(line);
      if (n < 0) return { value: null, end: next };
      const items: RespValue[] = [];
      let at = next;
      for (let i = 0; i < n; i++) {
        const r = parseReply(buf, at);
        if (!r) return undefined;
        items.push(r.value);
        at = r.end;
      }
      return { value: items, end: at };
    }
    default:
      throw new TaskermanError('ACTION_FAILED', `not a RESP reply: ${JSON.stringify(buf.toString('utf8', pos, Math.min(buf.length, pos + 40)))}`);
  }
}

function parseAll(buf: Buffer, count: number): RespValue[] | undefined {
  const out: RespValue[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    const r = parseReply(buf, at);
    if (!r) return undefined;
    out.push(r.value);
    at = r.end;
  }
  return out;
}

export interface RedisEndpoint {
  host: string;
  port: number;
  username?: string;
  password?: string;
}

/** Sends one command (after AUTH when a password is set) and returns its reply; a Redis error throws. */
export async function redisCall(ep: RedisEndpoint, args: readonly string[], o: { signal: AbortSignal; timeoutMs?: number }): Promise<RespValue> {
  const auth = ep.password === undefined ? [] : [encodeCommand(ep.username ? ['AUTH', ep.username, ep.password] : ['AUTH', ep.password])];
  const count = auth.length + 1;
  const raw = await tcpExchange({ host: ep.host, port: ep.port, send: Buffer.concat([...auth, encodeCommand(args)]), signal: o.signal, timeoutMs: o.timeoutMs, complete: (b) => parseAll(b, count) !== undefined });
  const replies = parseAll(raw, count) ?? [];
  for (const [i, r] of replies.entries()) {
    if (r instanceof RespError) {
      const what = i < auth.length ? 'AUTH' : args[0];
      throw new TaskermanError('ACTION_FAILED', `redis ${ep.host}:${ep.port} ${what}: ${r.message}`, { retryable: !/^(NOAUTH|WRONGPASS|NOPERM|ERR unknown command)/.test(r.message) });
    }
  }
  return replies[replies.length - 1] ?? null;
}

/** `INFO <section>` as a map of its key:value lines. */
export async function redisInfo(ep: RedisEndpoint, section: string, o: { signal: AbortSignal; timeoutMs?: number }): Promise<Map<string, string>> {
  const text = await redisCall(ep, ['INFO', section], o);
  if (typeof text !== 'string') throw new TaskermanError('ACTION_FAILED', `redis INFO ${section} did not answer text`);
  const out = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out.set(line.slice(0, i), line.slice(i + 1));
  }
  return out;
}
