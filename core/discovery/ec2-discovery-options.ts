// Options of the EC2-tag adapter of the Discovery port (`ec2-discovery.ts`): defaults applied and validated
// once, here, and compiled into a fully-required shape with durations in ms.
import type { EC2Client, EC2ClientConfig } from '@aws-sdk/client-ec2';
import { OptionError } from '../errors.js';
import { resolveEndpoint, resolveRegion } from '../aws.js';
import { silentLogger, type Logger } from '../logger.js';

/**
 * Where a node's name comes from. It must be what that node's runner calls itself (`taskerman runner --node`,
 * default: the host name), or its work lands in a queue nobody polls.
 * - `instance-id`: `i-0abc...`
 * - `private-dns`: `ip-10-0-1-17.eu-west-1.compute.internal` (the FQDN `hostname -f` gives on a default VPC setup)
 * - `private-ip`:  `10.0.1.17`
 * - `tag:<Key>`:   the value of that tag, e.g. `tag:Name`
 */
export type NodeIdSource = 'instance-id' | 'private-dns' | 'private-ip' | `tag:${string}`;

export type Ec2RetryMode = 'standard' | 'adaptive';

export interface Ec2TagDiscoveryOptions {
  /**
   * The EC2 client to use. When given, `region`, `endpoint`, `credentials`, `maxAttempts`, `retryMode` and the
   * timeouts are not used to build one (`region`/`endpoint` only name the target in error messages), and
   * `close()` leaves the client alone: its owner destroys it.
   */
  ec2?: EC2Client;
  /** Default: env `AWS_REGION`, else `us-east-1`. */
  region?: string;
  /**
   * A custom endpoint (LocalStack, a VPC endpoint). Default: env `AWS_ENDPOINT_URL_EC2`, else env
   * `AWS_ENDPOINT_URL`, else none (the region's public endpoint).
   */
  endpoint?: string;
  /** Default: none, the SDK's default provider chain (env, profile, instance role). */
  credentials?: EC2ClientConfig['credentials'];
  /** The tag whose value is the cluster name. Default: `taskerman:cluster`. */
  tagKey?: string;
  /** Where a node's name comes from (see NodeIdSource). Default: `private-dns`. */
  nodeId?: NodeIdSource;
  /** `MaxResults` of each DescribeInstances call, 5-1000. Default: 1000 (fewest calls against a throttled API). */
  pageSize?: number;
  /**
   * SDK attempts per call, the first included (1 = no retry). Throttling (`RequestLimitExceeded`) and 5xx
   * answers are retried by the SDK with backoff. Default: 5; DescribeInstances is throttled per account, and
   * a router that gives up early fails a task that a second later would have routed.
   */
  maxAttempts?: number;
  /**
   * The SDK's retry strategy. Default: `standard` (exponential backoff with jitter). `adaptive` also slows
   * the client down on throttling, for accounts where many tools share the DescribeInstances budget.
   */
  retryMode?: Ec2RetryMode;
  /** Give up connecting after this long. Default: 5000 ms. */
  connectTimeoutMs?: number;
  /** Give up on a socket that stays silent this long. Default: 30000 ms. */
  requestTimeoutMs?: number;
  /** Warnings about instances that were skipped (no node name, name clash). Default: a silent logger. */
  logger?: Logger;
}

export interface CompiledEc2TagDiscoveryOptions {
  ec2: EC2Client | undefined;
  region: string;
  endpoint: string | undefined;
  credentials: EC2ClientConfig['credentials'] | undefined;
  tagKey: string;
  nodeId: NodeIdSource;
  pageSize: number;
  maxAttempts: number;
  retryMode: Ec2RetryMode;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  logger: Logger;
}

/** EC2 tag keys: 1-128 characters, and the `aws:` prefix is reserved. */
const TAG_KEY_MAX = 128;

function intInRange(field: string, value: number | undefined, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new OptionError(field, `must be an integer from ${min}${max === Number.MAX_SAFE_INTEGER ? ' up' : ` to ${max}`}, got ${String(v)}`);
  }
  return v;
}

function tagKeyOf(field: string, key: string): string {
  if (key.length === 0 || key.length > TAG_KEY_MAX || key.trim() !== key) {
    throw new OptionError(field, `"${key}" must be a tag key of 1-${TAG_KEY_MAX} characters without leading or trailing spaces`);
  }
  if (key.toLowerCase().startsWith('aws:')) throw new OptionError(field, `"${key}": the "aws:" prefix is reserved by AWS`);
  return key;
}

export function compileNodeIdSource(raw: string): NodeIdSource {
  if (raw === 'instance-id' || raw === 'private-dns' || raw === 'private-ip') return raw;
  if (raw.startsWith('tag:')) return `tag:${tagKeyOf('nodeId', raw.slice(4))}`;
  throw new OptionError('nodeId', `"${raw}" must be instance-id, private-dns, private-ip or tag:<Key> (e.g. tag:Name)`);
}

export function compileEc2TagDiscoveryOptions(
  opts: Ec2TagDiscoveryOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): CompiledEc2TagDiscoveryOptions {
  const region = resolveRegion(opts.region, env);
  const endpoint = resolveEndpoint(opts.endpoint, env.AWS_ENDPOINT_URL_EC2, env, 'ec2-endpoint');

  const retryMode = opts.retryMode ?? 'standard';
  if (retryMode !== 'standard' && retryMode !== 'adaptive') {
    throw new OptionError('retryMode', `"${String(retryMode)}" must be standard or adaptive`);
  }

  return {
    ec2: opts.ec2,
    region,
    endpoint,
    credentials: opts.credentials,
    tagKey: tagKeyOf('tagKey', opts.tagKey ?? 'taskerman:cluster'),
    nodeId: compileNodeIdSource(opts.nodeId ?? 'private-dns'),
    // DescribeInstances takes MaxResults 5-1000 when no instance ids are given.
    pageSize: intInRange('pageSize', opts.pageSize, 1000, 5, 1000),
    maxAttempts: intInRange('maxAttempts', opts.maxAttempts, 5, 1, 20),
    retryMode,
    connectTimeoutMs: intInRange('connectTimeoutMs', opts.connectTimeoutMs, 5000, 1),
    requestTimeoutMs: intInRange('requestTimeoutMs', opts.requestTimeoutMs, 30_000, 1),
    logger: opts.logger ?? silentLogger,
  };
}
