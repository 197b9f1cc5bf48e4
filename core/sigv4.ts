// AWS Signature Version 4 for one JSON-protocol request (a POST of a body, no query string), as documented in
// "Create a signed AWS API request" (docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html):
// a canonical request of the method, the path, the signed headers and the body's SHA-256; a string to sign
// naming the algorithm, the time and the scope (date/region/service/aws4_request); an HMAC chain from the
// secret key to a signing key per day, region and service. test/unit/sigv4.test.ts checks it against the AWS
// SDK's own signer (@smithy/signature-v4) request for request.
import { createHash, createHmac } from 'node:crypto';

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
  expiration?: Date | undefined;
}

export interface SignableRequest {
  method: string;
  /** The Host header as sent: hostname, and ":port" unless it is the scheme's default. */
  host: string;
  /** Absolute path, already as sent (e.g. "/"). */
  path: string;
  /** Headers to sign and send, names in lower case (host, x-amz-date and the token are added here). */
  headers: Record<string, string>;
  body: string;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';

function sha256Hex(data: string): string {
  return createHash('sha256').update(data, 'utf8').digest('hex');
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

let lastSecond = NaN;
let lastAmzDate = '';

/** "20150830T123600Z" from a time (formatted once per second: a busy client signs many requests in one). */
export function amzDate(time: Date): string {
  const second = Math.floor(time.getTime() / 1000);
  if (second !== lastSecond) {
    lastAmzDate = time.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    lastSecond = second;
  }
  return lastAmzDate;
}

/** RFC 3986 encoding of one path segment (unreserved characters kept), as SigV4's canonical URI wants. */
function encodeSegment(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * The canonical URI for every service but S3: each segment normalised and encoded twice (once as the path is
 * sent, once more for the canonical form), the rule that signers of non-S3 services follow.
 */
function canonicalPath(path: string): string {
  if (path === '' || path === '/') return '/';
  return path
    .split('/')
    .map((segment) => encodeSegment(encodeSegment(decodeURIComponent(segment))))
    .join('/');
}

/** Signs requests for one service in one region; keeps the day's signing key so a request costs four hashes, not eight. */
export class SigV4Signer {
  private key: { secret: string; day: string; value: Buffer } | undefined;

  constructor(
    readonly region: string,
    readonly service: string,
  ) {}

  /** Returns the headers to send: the request's, plus host, x-amz-date, x-amz-security-token and authorization. */
  sign(req: SignableRequest, credentials: AwsCredentials, time: Date): Record<string, string> {
    const date = amzDate(time);
    const day = date.slice(0, 8);
    const headers: Record<string, string> = { ...req.headers, host: req.host, 'x-amz-date': date };
    if (credentials.sessionToken) headers['x-amz-security-token'] = credentials.sessionToken;

    const names = Object.keys(headers).sort();
    const canonicalHeaders = names.map((n) => `${n}:${(headers[n] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
    const signedHeaders = names.join(';');
    const canonicalRequest = [req.method, canonicalPath(req.path), '', canonicalHeaders, signedHeaders, sha256Hex(req.body)].join('\n');
    const scope = `${day}/${this.region}/${this.service}/aws4_request`;
    const stringToSign = [ALGORITHM, date, scope, sha256Hex(canonicalRequest)].join('\n');
    const signature = createHmac('sha256', this.signingKey(credentials.secretAccessKey, day)).update(stringToSign, 'utf8').digest('hex');

    headers.authorization = `${ALGORITHM} Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
    return headers;
  }

  private signingKey(secret: string, day: string): Buffer {
    if (this.key?.secret === secret && this.key.day === day) return this.key.value;
    const value = hmac(hmac(hmac(hmac(`AWS4${secret}`, day), this.region), this.service), 'aws4_request');
    this.key = { secret, day, value };
    return value;
  }
}
