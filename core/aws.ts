// What the AWS adapters (SQS, EC2) share: reading region and endpoint options, and telling "nothing
// answers there" apart from an error the service returned.
import { OptionError } from './errors.js';

const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'EPIPE']);
const UNREACHABLE_NAMES = new Set(['TimeoutError', 'RequestTimeout', 'NetworkingError']);

export interface ErrorLike {
  name?: unknown;
  code?: unknown;
  Code?: unknown;
  message?: unknown;
  errors?: unknown;
  cause?: unknown;
}

export function asErrorLike(err: unknown): ErrorLike {
  return typeof err === 'object' && err !== null ? (err as ErrorLike) : {};
}

/** The socket-level reason when `err` means "nothing answers there" (refused, no DNS, timeout), else undefined. */
export function unreachableReason(err: unknown, depth = 0): string | undefined {
  const e = asErrorLike(err);
  if (typeof e.code === 'string' && UNREACHABLE_CODES.has(e.code)) return `${e.code} (${String(e.message)})`;
  if (typeof e.name === 'string' && UNREACHABLE_NAMES.has(e.name)) return `${e.name} (${String(e.message)})`;
  if (depth > 2) return undefined;
  // Node's happy-eyeballs connect reports an AggregateError with one error per address tried.
  if (Array.isArray(e.errors)) {
    for (const inner of e.errors) {
      const r = unreachableReason(inner, depth + 1);
      if (r) return r;
    }
  }
  return e.cause === undefined ? undefined : unreachableReason(e.cause, depth + 1);
}

/** The region from the option, else AWS_REGION, else us-east-1; validated. */
export function resolveRegion(option: string | undefined, env: NodeJS.ProcessEnv): string {
  const region = option ?? env.AWS_REGION ?? 'us-east-1';
  if (!/^[a-z0-9-]+$/.test(region)) throw new OptionError('region', `"${region}" is not an AWS region name`);
  return region;
}

/** The endpoint from the option, else the service's own variable, else AWS_ENDPOINT_URL; an http(s) URL or undefined. */
export function resolveEndpoint(option: string | undefined, serviceEnv: string | undefined, env: NodeJS.ProcessEnv, field: string): string | undefined {
  const endpoint = option ?? (serviceEnv || env.AWS_ENDPOINT_URL || undefined);
  if (endpoint === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(endpoint);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new OptionError(field, `"${endpoint}" must be an http(s) URL like http://127.0.0.1:4566`);
  }
  return endpoint;
}
