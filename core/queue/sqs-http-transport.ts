// The default SQS transport: the SQS JSON protocol (AWS JSON 1.0) over a keep-alive HTTP agent, signed with
// SigV4, retried the way the AWS SDK's "standard" retry mode retries. It exists for weight: every runner long
// polls two queues for as long as it lives and the router sends one message per node, and the AWS SDK spends
// ~1.3 ms of CPU on a SendMessage and ~2 ms on a receive and its delete (its middleware stack, endpoint rules,
// signer, parsers); this takes ~0.4 ms, and a process that only talks to SQS never loads the SDK's client.
//
// What it follows (docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/ and the SDK developer guide):
// - requests: POST to the endpoint's path, Content-Type application/x-amz-json-1.0, X-Amz-Target
//   AmazonSQS.<Operation>, the input as JSON; x-amzn-query-mode: true so that errors also carry their
//   query-protocol code (x-amzn-query-error: AWS.SimpleQueueService.NonExistentQueue;Sender);
// - errors: the type from x-amzn-errortype, else the body's __type (or code), namespace and suffix cut
//   (com.amazonaws.sqs#QueueDoesNotExist -> QueueDoesNotExist), the message from message/Message;
// - retries (standard mode): up to maxAttempts in all, for throttling errors, 500/502/503/504, timeouts and
//   dropped connections, and clock-skew errors once the clock offset is corrected from the response's Date;
//   full-jitter exponential backoff (base 100 ms, 500 ms when throttled, capped at 20 s); a retry quota of
//   500 tokens (5 per retry, 10 per timeout, refunded on success) so an outage does not triple the load;
// - integrity: MD5OfMessageBody of a sent message and MD5OfBody of a received one are checked, as the SDK does;
// - credentials: given ones, else the SDK's default provider chain (env, profile, SSO, web identity, ECS,
//   instance role), memoized and refreshed before expiry, loaded on the first call that needs it;
// - endpoint: the given one, else sqs.<region> in the region's partition (FIPS and dual-stack when
//   AWS_USE_FIPS_ENDPOINT / AWS_USE_DUALSTACK_ENDPOINT say so).
import { createHash } from 'node:crypto';
import type { Agent, ClientRequest, IncomingMessage, RequestOptions } from 'node:http';
import { createRequire } from 'node:module';
import { delay } from '../delay.js';
import { SigV4Signer, type AwsCredentials } from '../sigv4.js';
import type { SqsInput, SqsOperation, SqsOutput, SqsTransport } from './sqs-transport.js';

// Through require: an ES import of node:http makes Node read every export of the built-in, and its WebSocket
// getters load Node's undici (~30 ms of CPU) for requests that never use it (see build/bundle-cli.ts).
const require = createRequire(import.meta.url);
const http = require('node:http') as typeof import('node:http');
const https = require('node:https') as typeof import('node:https');

export type CredentialsInput = AwsCredentials | (() => Promise<AwsCredentials>);

export interface SqsHttpTransportOptions {
  region: string;
  /** http(s) URL; default: the region's public SQS endpoint. */
  endpoint?: string | undefined;
  credentials?: CredentialsInput | undefined;
  /** Attempts per call, the first included (1 = no retry). */
  maxAttempts: number;
  connectTimeoutMs: number;
  /** A socket silent this long fails the attempt (must exceed the longest long poll). */
  requestTimeoutMs: number;
  env?: NodeJS.ProcessEnv;
}

/** An error the service (or the wire) gave, in the SDK's shape: what SqsWorkQueue and core/aws.ts read. */
export class SqsServiceError extends Error {
  readonly Code: string | undefined;
  readonly $fault: 'client' | 'server';
  readonly $metadata: { httpStatusCode?: number; requestId?: string };
  constructor(name: string, message: string, opts: { code?: string | undefined; status?: number; requestId?: string | undefined }) {
    super(message);
    this.name = name;
    this.Code = opts.code;
    this.$fault = opts.status !== undefined && opts.status < 500 ? 'client' : 'server';
    this.$metadata = { ...(opts.status !== undefined ? { httpStatusCode: opts.status } : {}), ...(opts.requestId ? { requestId: opts.requestId } : {}) };
  }
}

const THROTTLING = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottledException',
  'TooManyRequestsException',
  'RequestThrottled',
  'RequestLimitExceeded',
  'BandwidthLimitExceeded',
  'LimitExceededException',
  'SlowDown',
  'PriorRequestNotComplete',
  'KmsThrottled',
]);
const TRANSIENT_STATUS = new Set([500, 502, 503, 504]);
const TRANSIENT_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT']);
const SKEW_MS = 300_000;
const MAX_BACKOFF_MS = 20_000;
const QUOTA = 500;

function abortError(): Error {
  return Object.assign(new Error('the SQS request was aborted'), { name: 'AbortError' });
}

function md5(s: string): string {
  return createHash('md5').update(s, 'utf8').digest('hex');
}

/** The service's public endpoint for a region, by partition. */
export function publicSqsEndpoint(region: string, env: NodeJS.ProcessEnv = process.env): string {
  const fips = env.AWS_USE_FIPS_ENDPOINT === 'true';
  const dual = env.AWS_USE_DUALSTACK_ENDPOINT === 'true';
  const host = fips && !region.startsWith('us-gov-') ? 'sqs-fips' : 'sqs';
  let suffix: string;
  if (region.startsWith('cn-')) suffix = dual ? 'api.amazonwebservices.com.cn' : 'amazonaws.com.cn';
  else if (region.startsWith('us-isob-')) suffix = 'sc2s.sgov.gov';
  else if (region.startsWith('us-isof-')) suffix = 'csp.hci.ic.gov';
  else if (region.startsWith('us-iso-')) suffix = 'c2s.ic.gov';
  else if (region.startsWith('eu-isoe-')) suffix = 'cloud.adc-e.uk';
  else suffix = dual ? 'api.aws' : 'amazonaws.com';
  return `https://${host}.${region}.${suffix}`;
}

interface Reply {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

export class SqsHttpTransport implements SqsTransport {
  private readonly url: URL;
  private readonly host: string;
  private readonly http: typeof http | typeof https;
  private readonly agent: Agent;
  private readonly signer: SigV4Signer;
  private credentials: (() => Promise<AwsCredentials>) | undefined;
  private clockOffsetMs = 0;
  private lastDate: string | undefined;
  private quota = QUOTA;
  private readonly userAgent = `taskerman node/${process.version}`;

  constructor(private readonly opts: SqsHttpTransportOptions) {
    this.url = new URL(opts.endpoint ?? publicSqsEndpoint(opts.region, opts.env));
    this.host = this.url.host; // hostname, and the port unless it is the scheme's default
    this.http = this.url.protocol === 'https:' ? https : http;
    this.agent = new this.http.Agent({ keepAlive: true, maxSockets: 50 });
    this.signer = new SigV4Signer(opts.region, 'sqs');
    const c = opts.credentials;
    if (typeof c === 'function') this.credentials = c;
    else if (c) this.credentials = () => Promise.resolve(c);
  }

  async call<K extends SqsOperation>(operation: K, input: SqsInput<K>, signal?: AbortSignal): Promise<SqsOutput<K>> {
    const body = JSON.stringify(input);
    let retryCost = 0;
    for (let attempt = 1; ; attempt++) {
      if (signal?.aborted) throw abortError();
      let error: Error;
      try {
        const reply = await this.send(operation, body, signal);
        const out = (reply.body ? JSON.parse(reply.body) : {}) as SqsOutput<K>;
        this.quota = Math.min(QUOTA, this.quota + (retryCost || 1));
        checkMd5(operation, input, out);
        return out;
      } catch (err) {
        error = err as Error;
      }
      if (error.name === 'AbortError' || signal?.aborted) throw signal?.aborted ? abortError() : error;
      const retry = this.retryable(error);
      const cost = error.name === 'TimeoutError' ? 10 : 5;
      if (!retry || attempt >= this.opts.maxAttempts || this.quota < cost) throw error;
      this.quota -= cost;
      retryCost = cost;
      const base = retry === 'throttled' ? 500 : 100;
      // Cut short by an abort, which the loop's first line then reports.
      await delay(Math.random() * Math.min(MAX_BACKOFF_MS, base * 2 ** (attempt - 1)), signal);
    }
  }

  async target(): Promise<string> {
    return this.opts.endpoint ?? `region ${this.opts.region}`;
  }

  destroy(): void {
    this.agent.destroy();
  }

  /** 'throttled', 'transient', or false. */
  private retryable(err: Error): 'throttled' | 'transient' | false {
    const e = err as Partial<SqsServiceError> & { code?: unknown; clockSkewCorrected?: boolean };
    if (THROTTLING.has(err.name) || e.$metadata?.httpStatusCode === 429) return 'throttled';
    // Whatever the error (SignatureDoesNotMatch, RequestExpired, ...), as the SDK: signed again with the corrected clock.
    if (e.clockSkewCorrected) return 'transient';
    if (err.name === 'TimeoutError' || err.name === 'RequestTimeout' || err.name === 'RequestTimeoutException') return 'transient';
    if (typeof e.code === 'string' && TRANSIENT_CODES.has(e.code)) return 'transient';
    const status = e.$metadata?.httpStatusCode;
    if (status !== undefined && TRANSIENT_STATUS.has(status)) return 'transient';
    return false;
  }

  private async resolveCredentials(): Promise<AwsCredentials> {
    if (!this.credentials) {
      const { defaultProvider } = await import('@aws-sdk/credential-provider-node');
      this.credentials = defaultProvider({ parentClientConfig: { region: this.opts.region } }) as () => Promise<AwsCredentials>;
    }
    return this.credentials();
  }

  private async send(operation: SqsOperation, body: string, signal: AbortSignal | undefined): Promise<Reply> {
    const credentials = await this.resolveCredentials();
    const headers = this.signer.sign(
      {
        method: 'POST',
        host: this.host,
        path: this.url.pathname,
        headers: {
          'content-type': 'application/x-amz-json-1.0',
          'x-amz-target': `AmazonSQS.${operation}`,
          'x-amzn-query-mode': 'true',
        },
        body,
      },
      credentials,
      new Date(Date.now() + this.clockOffsetMs),
    );
    headers['content-length'] = String(Buffer.byteLength(body));
    headers['user-agent'] = this.userAgent;
    const reply = await this.exchange(
      {
        // An IPv6 literal comes bracketed in a URL ([::1]) and bare in a socket address.
        hostname: this.url.hostname.replace(/^\[(.*)\]$/, '$1'),
        port: this.url.port || undefined,
        path: this.url.pathname,
        method: 'POST',
        headers,
        agent: this.agent,
      },
      body,
      signal,
    );
    const corrected = this.correctClock(reply.headers.date);
    if (reply.status >= 200 && reply.status < 300) return reply;
    throw Object.assign(serviceError(reply), corrected ? { clockSkewCorrected: true } : {});
  }

  /** Keeps the offset between this clock and the service's when they are 5 minutes or more apart (as the SDK). */
  private correctClock(date: string | undefined): boolean {
    // A Date header changes once a second; a burst of answers carries the same one, parsed once.
    if (!date || date === this.lastDate) return false;
    this.lastDate = date;
    const server = Date.parse(date);
    if (Number.isNaN(server)) return false;
    if (Math.abs(server - (Date.now() + this.clockOffsetMs)) < SKEW_MS) return false;
    this.clockOffsetMs = server - Date.now();
    return true;
  }

  /** One HTTP exchange, bounded by the connect and idle timeouts, cut short by `signal`. */
  private exchange(options: RequestOptions, body: string, signal: AbortSignal | undefined): Promise<Reply> {
    const { connectTimeoutMs, requestTimeoutMs } = this.opts;
    return new Promise<Reply>((resolve, reject) => {
      let req: ClientRequest | undefined = undefined;
      const onAbort = () => req?.destroy(abortError());
      const done = () => signal?.removeEventListener('abort', onAbort);
      req = this.http.request(options, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => {
          done();
          reject(err);
        });
        res.on('end', () => {
          done();
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
        });
      });
      req.on('error', (err) => {
        done();
        reject(err);
      });
      req.setTimeout(requestTimeoutMs, () => {
        req?.destroy(Object.assign(new Error(`no answer from SQS within ${requestTimeoutMs} ms`), { name: 'TimeoutError' }));
      });
      req.on('socket', (socket) => {
        if (!socket.connecting) return;
        const timer = setTimeout(() => {
          req?.destroy(Object.assign(new Error(`could not connect to SQS within ${connectTimeoutMs} ms`), { name: 'TimeoutError', code: 'ETIMEDOUT' }));
        }, connectTimeoutMs);
        socket.once('connect', () => clearTimeout(timer));
        socket.once('close', () => clearTimeout(timer));
      });
      signal?.addEventListener('abort', onAbort, { once: true });
      req.end(body);
    });
  }
}

function header(headers: IncomingMessage['headers'], name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The SDK's reading of a JSON-protocol error: type from the header or the body, the query code from its header. */
function serviceError(reply: Reply): SqsServiceError {
  let parsed: Record<string, unknown> = {};
  try {
    const p: unknown = reply.body ? JSON.parse(reply.body) : {};
    if (p && typeof p === 'object') parsed = p as Record<string, unknown>;
  } catch {
    // Not JSON (a proxy's HTML page): the status names the error.
  }
  const raw = header(reply.headers, 'x-amzn-errortype') ?? parsed.__type ?? parsed.code ?? parsed.Code;
  let name = typeof raw === 'string' && raw ? raw : `Http${reply.status}`;
  name = name.split(':')[0] ?? name;
  name = name.slice(name.lastIndexOf('#') + 1);
  const message = parsed.message ?? parsed.Message;
  const queryError = header(reply.headers, 'x-amzn-query-error');
  return new SqsServiceError(name, typeof message === 'string' && message ? message : `HTTP ${reply.status} from SQS`, {
    code: queryError?.split(';')[0] || undefined,
    status: reply.status,
    requestId: header(reply.headers, 'x-amzn-requestid'),
  });
}

function invalidChecksum(what: string): SqsServiceError {
  return new SqsServiceError('InvalidChecksum', `the MD5 of ${what} does not match the body: it was corrupted on the way`, {});
}

/** The checks the SDK makes: what was sent, and what was received, is what SQS hashed. */
function checkMd5(operation: SqsOperation, input: unknown, out: unknown): void {
  if (operation === 'SendMessage') {
    const i = input as SqsInput<'SendMessage'>;
    const o = out as SqsOutput<'SendMessage'>;
    if (o.MD5OfMessageBody !== undefined && i.MessageBody !== undefined && o.MD5OfMessageBody !== md5(i.MessageBody)) throw invalidChecksum('the sent message');
  } else if (operation === 'SendMessageBatch') {
    const bodies = new Map((input as SqsInput<'SendMessageBatch'>).Entries?.map((e) => [e.Id, e.MessageBody]));
    for (const s of (out as SqsOutput<'SendMessageBatch'>).Successful ?? []) {
      const sent = bodies.get(s.Id);
      if (s.MD5OfMessageBody !== undefined && sent !== undefined && s.MD5OfMessageBody !== md5(sent)) throw invalidChecksum(`batch entry ${String(s.Id)}`);
    }
  } else if (operation === 'ReceiveMessage') {
    for (const m of (out as SqsOutput<'ReceiveMessage'>).Messages ?? []) {
      if (m.MD5OfBody !== undefined && m.Body !== undefined && m.MD5OfBody !== md5(m.Body)) throw invalidChecksum(`message ${String(m.MessageId)}`);
    }
  }
}
