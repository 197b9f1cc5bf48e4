// The EC2-tag adapter of the Discovery port (`discovery: aws_tags`): the running instances tagged with the
// cluster's name are its nodes. Owns the EC2 client (injected, or built here and destroyed on close), the
// DescribeInstances pagination, the choice of each node's name, and the translation of SDK failures into
// DiscoveryError (refused: permissions, credentials, bad request) or BackendError (unreachable, throttled).
//
// IAM: the router's role needs `ec2:DescribeInstances` (it supports no resource-level restriction, so on "*").
import { DescribeInstancesCommand, EC2Client, type DescribeInstancesCommandOutput, type Filter, type Instance } from '@aws-sdk/client-ec2';
import { DiscoveryError, type Discovery } from './discovery.js';
import {
  compileEc2TagDiscoveryOptions,
  type CompiledEc2TagDiscoveryOptions,
  type Ec2TagDiscoveryOptions,
  type NodeIdSource,
} from './ec2-discovery-options.js';
import { BackendError, type TaskermanError } from '../errors.js';
import type { Logger } from '../logger.js';
// Shared with the SQS adapter: the same socket-level failures mean "nothing there" for every AWS client.
import { unreachableReason } from '../aws.js';
import type { TaskSpec } from '../task/task-spec.js';

export type { Ec2TagDiscoveryOptions, NodeIdSource } from './ec2-discovery-options.js';

/** The IAM action this adapter calls, for messages and for the terraform policy test. */
export const EC2_DISCOVERY_IAM_ACTION = 'ec2:DescribeInstances';

/** The node-name rule of task specs (`nodes:`, `destnode:`), so a discovered node can also be named by hand. */
const NODE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,252}$/;

const DENIED = new Set(['UnauthorizedOperation', 'AccessDenied', 'AccessDeniedException']);
const BAD_CREDENTIALS = new Set([
  'CredentialsProviderError',
  'ExpiredToken',
  'ExpiredTokenException',
  'RequestExpired',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'AuthFailure',
  'SignatureDoesNotMatch',
  'InvalidAccessKeyId',
]);
const THROTTLED = new Set(['RequestLimitExceeded', 'Throttling', 'ThrottlingException', 'TooManyRequestsException']);

/** How many instance ids a log line or an error message spells out. */
const IDS_SHOWN = 20;

const byName = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true });

interface AwsErrorLike {
  name?: unknown;
  Code?: unknown;
  message?: unknown;
  $fault?: unknown;
  $metadata?: { httpStatusCode?: number; attempts?: number };
}

function listIds(ids: string[]): string {
  const shown = ids.slice(0, IDS_SHOWN).join(', ');
  return ids.length > IDS_SHOWN ? `${shown} (+${ids.length - IDS_SHOWN} more)` : shown;
}

function firstLine(s: unknown): string {
  return String(s ?? '').split('\n')[0] ?? '';
}

/** The node's name under `source`, or undefined when the instance does not have one. */
export function nodeNameOf(instance: Instance, source: NodeIdSource): string | undefined {
  let v: string | undefined;
  switch (source) {
    case 'instance-id':
      v = instance.InstanceId;
      break;
    case 'private-dns':
      v = instance.PrivateDnsName;
      break;
    case 'private-ip':
      v = instance.PrivateIpAddress;
      break;
    default: {
      const key = source.slice('tag:'.length);
      v = instance.Tags?.find((t) => t.Key === key)?.Value;
    }
  }
  // EC2 answers "" rather than leaving a field out (a private DNS name of an instance without a VPC DNS).
  return v === undefined || v === '' ? undefined : v;
}

export class Ec2TagDiscovery implements Discovery {
  readonly kind = 'aws_tags' as const;
  private readonly o: CompiledEc2TagDiscoveryOptions;
  private readonly client: EC2Client;
  private readonly ownsClient: boolean;
  private readonly log: Logger;

  constructor(options: Ec2TagDiscoveryOptions = {}) {
    this.o = compileEc2TagDiscoveryOptions(options);
    this.log = this.o.logger.child({ component: 'ec2-discovery' });
    if (this.o.ec2) {
      this.client = this.o.ec2;
      this.ownsClient = false;
    } else {
      this.client = new EC2Client({
        region: this.o.region,
        maxAttempts: this.o.maxAttempts,
        retryMode: this.o.retryMode,
        requestHandler: { connectionTimeout: this.o.connectTimeoutMs, requestTimeout: this.o.requestTimeoutMs },
        ...(this.o.credentials ? { credentials: this.o.credentials } : {}),
        ...(this.o.endpoint ? { endpoint: this.o.endpoint } : {}),
      });
      this.ownsClient = true;
    }
  }

  /** The filters sent with every DescribeInstances call for `cluster`. */
  filters(cluster: string): Filter[] {
    return [
      { Name: `tag:${this.o.tagKey}`, Values: [cluster] },
      { Name: 'instance-state-name', Values: ['running'] },
    ];
  }

  async resolve(spec: TaskSpec): Promise<string[]> {
    const cluster = spec.cluster;
    const instances = await this.describe(cluster);

    const byNode = new Map<string, string[]>();
    const unnamed: string[] = [];
    const unusable: string[] = [];
    let ignored = 0;
    for (const [id, inst] of instances) {
      // The filters already say this; checked again because emulators (and mocks) do not always apply them,
      // and a node outside the cluster or not running must never receive work.
      const tagged = inst.Tags?.some((t) => t.Key === this.o.tagKey && t.Value === cluster) ?? false;
      if (inst.State?.Name !== 'running' || !tagged) {
        ignored++;
        continue;
      }
      const name = nodeNameOf(inst, this.o.nodeId);
      if (name === undefined) {
        unnamed.push(id);
      } else if (!NODE_NAME_RE.test(name)) {
        unusable.push(`${id} (${JSON.stringify(name)})`);
      } else {
        byNode.set(name, [...(byNode.get(name) ?? []), id]);
      }
    }

    const log = this.log.child({ cluster });
    if (ignored > 0) log.debug({ ignored }, 'instances answered that are not running or not tagged with the cluster: ignored');
    if (unnamed.length > 0) {
      log.warn(
        { node_id: this.o.nodeId, instance_ids: unnamed },
        `${unnamed.length} running instance(s) of the cluster have no ${this.o.nodeId} and were skipped: ${listIds(unnamed)}`,
      );
    }
    if (unusable.length > 0) {
      log.warn(
        { node_id: this.o.nodeId, instances: unusable },
        `${unusable.length} running instance(s) have a ${this.o.nodeId} that is not a valid node name (letters, digits, ".", "_", ":", "@", "-") and were skipped: ${listIds(unusable)}`,
      );
    }
    for (const [name, ids] of byNode) {
      if (ids.length > 1) {
        log.warn({ node: name, instance_ids: ids }, `instances ${listIds(ids)} share the node name "${name}": it is targeted once`);
      }
    }

    const nodes = [...byNode.keys()].sort(byName);
    const skipped = [...unnamed, ...unusable];
    if (nodes.length === 0 && skipped.length > 0) {
      throw new DiscoveryError(
        `${skipped.length} running instance(s) tagged ${this.o.tagKey}=${cluster} but none has a usable ${this.o.nodeId}: ${listIds(skipped)}`,
        { hint: 'set the node id source to one every node has (instance-id, private-dns, private-ip or tag:<Key>), matching the runners\' --node' },
      );
    }
    return nodes;
  }

  /** Destroys the client when this adapter built it; an injected one is left to its owner. */
  close(): void {
    if (this.ownsClient) this.client.destroy();
  }

  /** Every instance of every page, by instance id (an instance repeated across pages is kept once, as last seen). */
  private async describe(cluster: string): Promise<Map<string, Instance>> {
    const found = new Map<string, Instance>();
    const tokens = new Set<string>();
    let nextToken: string | undefined;
    let anonymous = 0;
    do {
      const input = { Filters: this.filters(cluster), MaxResults: this.o.pageSize, ...(nextToken ? { NextToken: nextToken } : {}) };
      const out: DescribeInstancesCommandOutput = await this.call(() => this.client.send(new DescribeInstancesCommand(input)));
      for (const r of out.Reservations ?? []) {
        for (const inst of r.Instances ?? []) found.set(inst.InstanceId ?? `(no instance id #${++anonymous})`, inst);
      }
      nextToken = out.NextToken || undefined;
      if (nextToken !== undefined) {
        // A paginator trusting the server would loop forever on a token that comes back.
        if (tokens.has(nextToken)) throw new BackendError('ec2', 'EC2 DescribeInstances returned a NextToken it had already returned: paging stopped');
        tokens.add(nextToken);
      }
    } while (nextToken !== undefined);
    return found;
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw await this.translate(err);
    }
  }

  private async translate(err: unknown): Promise<TaskermanError> {
    const e: AwsErrorLike = typeof err === 'object' && err !== null ? (err as AwsErrorLike) : {};
    const code = typeof e.name === 'string' && e.name !== 'Error' ? e.name : typeof e.Code === 'string' ? e.Code : 'Error';
    if (DENIED.has(code)) {
      return new DiscoveryError(`EC2 DescribeInstances not allowed (${code}): the router's role needs ${EC2_DISCOVERY_IAM_ACTION}`, {
        cause: err,
        hint: `grant ${EC2_DISCOVERY_IAM_ACTION} on "*" (terraform/: the router policy)`,
      });
    }
    if (BAD_CREDENTIALS.has(code)) {
      return new DiscoveryError(`no valid AWS credentials for EC2 DescribeInstances (${code}: ${firstLine(e.message)})`, {
        cause: err,
        hint: 'the router takes credentials from the usual AWS chain: instance role, AWS_PROFILE, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY',
      });
    }
    const reason = unreachableReason(err);
    if (reason !== undefined) {
      return new BackendError('ec2', `cannot reach EC2 at ${await this.target()}: ${reason}`, {
        cause: err,
        hint: 'check --ec2-endpoint / AWS_ENDPOINT_URL_EC2 and --region',
      });
    }
    const attempts = e.$metadata?.attempts;
    const after = attempts !== undefined ? ` after ${attempts} attempt(s)` : '';
    if (THROTTLED.has(code) || e.$fault === 'server' || (e.$metadata?.httpStatusCode ?? 0) >= 500) {
      // Worth another try later: the router leaves the task's message to be redelivered.
      return new BackendError('ec2', `EC2 DescribeInstances failed${after}: ${code}: ${firstLine(e.message)}`, { cause: err });
    }
    return new DiscoveryError(`EC2 DescribeInstances failed: ${code}: ${firstLine(e.message)}`, { cause: err });
  }

  /** Where requests go, for error messages: the endpoint, else the region. */
  private async target(): Promise<string> {
    if (this.ownsClient) return this.o.endpoint ?? `region ${this.o.region}`;
    try {
      const ep = await this.client.config.endpoint?.();
      if (ep) return `${ep.protocol}//${ep.hostname}${ep.port ? `:${ep.port}` : ''}${ep.path}`;
      return `region ${await this.client.config.region()}`;
    } catch {
      return this.o.endpoint ?? `region ${this.o.region}`;
    }
  }
}
