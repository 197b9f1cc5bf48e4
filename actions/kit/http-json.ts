// A local HTTP JSON call (a server's admin or health endpoint): one request with a timeout and the action's
// abort signal, the body parsed as JSON, a non-2xx status or a body that is not JSON turned into an error
// that names the URL and the status. Only for endpoints the runner's config names, never a URL from a task.
import { AbortedError, TaskermanError, TimeoutError } from '../../core/errors.js';

export interface HttpJsonOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  body?: unknown;
  headers?: Record<string, string>;
  signal: AbortSignal;
  /** Default 10 000 ms. */
  timeoutMs?: number;
  /** Statuses accepted besides 2xx (ECK reads the body of a 503 health answer); default none. */
  acceptStatus?: number[];
}

export interface HttpJsonResult<T = unknown> {
  status: number;
  body: T;
}

export const DEFAULT_HTTP_TIMEOUT_MS = 10_000;

export async function httpJson<T = unknown>(url: string, o: HttpJsonOptions): Promise<HttpJsonResult<T>> {
  const timeoutMs = o.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS;
  const timeout = AbortSignal.timeout(timeoutMs);
  const method = o.method ?? 'GET';
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: { accept: 'application/json', ...(o.body === undefined ? {} : { 'content-type': 'application/json' }), ...o.headers },
      body: o.body === undefined ? undefined : JSON.stringify(o.body),
      signal: AbortSignal.any([o.signal, timeout]),
    });
  } catch (err) {
    if (o.signal.aborted) throw new AbortedError(`stopped: ${method} ${url}`, { cause: o.signal.reason });
    if (timeout.aborted) throw new TimeoutError(`${method} ${url} did not answer within ${timeoutMs} ms`);
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new TaskermanError('ACTION_FAILED', `${method} ${url}: ${cause?.code ?? cause?.message ?? (err as Error).message}`, { cause: err });
  }
  const text = await res.text();
  if (!res.ok && !(o.acceptStatus ?? []).includes(res.status)) {
    throw new TaskermanError('ACTION_FAILED', `${method} ${url}: HTTP ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`, { context: { status: res.status } });
  }
  let body: T;
  try {
    body = (text === '' ? null : JSON.parse(text)) as T;
  } catch {
    throw new TaskermanError('ACTION_FAILED', `${method} ${url}: HTTP ${res.status} but the body is not JSON: ${text.slice(0, 120)}`);
  }
  return { status: res.status, body };
}
