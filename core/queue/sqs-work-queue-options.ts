// Options of the SQS adapter of the WorkQueue port (`sqs-work-queue.ts`): defaults applied and validated
// once, here, and compiled into a fully-required shape with durations in ms.
import type { SQSClient } from '@aws-sdk/client-sqs';
import { resolveEndpoint, resolveRegion } from '../aws.js';
import { OptionError } from '../errors.js';
import type { CredentialsInput } from './sqs-http-transport.js';

export interface SqsWorkQueueOptions {
  /**
   * An AWS SDK client to send every call through instead of Taskerman's own transport (sqs-http-transport.ts).
   * When given, `credentials`, `maxAttempts` and the timeouts are the client's own (`region`/`endpoint` only
   * name the target in error messages), and `close()` leaves the client alone: its owner destroys it. Build it
   * with `useQueueUrlAsEndpoint: false` when it has an endpoint of its own.
   */
  sqs?: SQSClient;
  /** Default: env `AWS_REGION`, else `us-east-1`. */
  region?: string;
  /**
   * A custom endpoint (LocalStack, fauxqs, a VPC endpoint). Default: env `AWS_ENDPOINT_URL_SQS`, else env
   * `AWS_ENDPOINT_URL`, else none (the region's public endpoint).
   */
  endpoint?: string;
  /**
   * Static credentials, or a function that returns them (called for each request; cache in it). Default: the
   * AWS SDK's default provider chain (env, profile, SSO, web identity, ECS, instance role), memoized.
   */
  credentials?: CredentialsInput;
  /** Attempts per call, the first included (1 = no retry). Default: 3, as the AWS SDK's standard retry mode. */
  maxAttempts?: number;
  /** Give up connecting after this long. Default: 5000 ms. */
  connectTimeoutMs?: number;
  /**
   * Give up on a socket that stays silent this long. Default: 30000 ms; it must stay above the longest long
   * poll (20 s) or every empty receive would fail.
   */
  requestTimeoutMs?: number;
  /** SendMessageBatch calls in flight at once during one `sendBatch`. Default: 4. */
  batchConcurrency?: number;
  /** Extra attempts for batch entries that failed through no fault of ours (`SenderFault: false`). Default: 2. */
  batchRetries?: number;
}

export interface CompiledSqsWorkQueueOptions {
  sqs: SQSClient | undefined;
  region: string;
  endpoint: string | undefined;
  credentials: CredentialsInput | undefined;
  maxAttempts: number;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  batchConcurrency: number;
  batchRetries: number;
}

function positiveInt(field: string, value: number | undefined, fallback: number, min = 1): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < min) throw new OptionError(field, `must be an integer >= ${min}, got ${String(v)}`);
  return v;
}

export function compileSqsWorkQueueOptions(
  opts: SqsWorkQueueOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): CompiledSqsWorkQueueOptions {
  const region = resolveRegion(opts.region, env);
  const endpoint = resolveEndpoint(opts.endpoint, env.AWS_ENDPOINT_URL_SQS, env, 'endpoint');

  return {
    sqs: opts.sqs,
    region,
    endpoint,
    credentials: opts.credentials,
    maxAttempts: positiveInt('maxAttempts', opts.maxAttempts, 3),
    connectTimeoutMs: positiveInt('connectTimeoutMs', opts.connectTimeoutMs, 5000),
    requestTimeoutMs: positiveInt('requestTimeoutMs', opts.requestTimeoutMs, 30_000),
    batchConcurrency: positiveInt('batchConcurrency', opts.batchConcurrency, 4),
    batchRetries: positiveInt('batchRetries', opts.batchRetries, 2, 0),
  };
}
