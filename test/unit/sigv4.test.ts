// core/sigv4.ts against the AWS SDK's own signer (@smithy/signature-v4, what the SDK clients sign with) for the
// requests the SQS transport makes, and against the "post-vanilla" case of AWS's published SigV4 test suite.
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { amzDate, SigV4Signer, type AwsCredentials } from '../../core/sigv4.js';

function bytes(d: string | ArrayBuffer | ArrayBufferView): string | Uint8Array {
  if (typeof d === 'string') return d;
  return d instanceof ArrayBuffer ? new Uint8Array(d) : new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/** The SDK signer's hash interface over node:crypto (an HMAC when given a secret). */
class Sha256 {
  private readonly h;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.h = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.h.update(bytes(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.h.digest()));
  }
}

async function sdkSign(req: { host: string; path: string; headers: Record<string, string>; body: string }, credentials: AwsCredentials, region: string, service: string, time: Date): Promise<Record<string, string>> {
  const signer = new SignatureV4({ credentials, region, service, sha256: Sha256, uriEscapePath: true, applyChecksum: false });
  const signed = await signer.sign(
    { method: 'POST', protocol: 'https:', hostname: req.host, path: req.path, query: {}, headers: { ...req.headers, host: req.host }, body: req.body },
    { signingDate: time },
  );
  return signed.headers;
}

const TIME = new Date('2026-11-30T23:59:58.123Z');
const KEYS: AwsCredentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };

describe('SigV4Signer', () => {
  it('formats the request time the way SigV4 wants it', () => {
    assert.equal(amzDate(new Date('2015-08-30T12:36:00.000Z')), '20150830T123600Z');
  });

  it("signs AWS's post-vanilla test case to its published signature", () => {
    const headers = new SigV4Signer('us-east-1', 'service').sign(
      { method: 'POST', host: 'example.amazonaws.com', path: '/', headers: {}, body: '' },
      KEYS,
      new Date('2015-08-30T12:36:00Z'),
    );
    assert.equal(
      headers.authorization,
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b',
    );
  });

  const cases: { what: string; host: string; path: string; body: string; credentials: AwsCredentials; region: string }[] = [
    { what: 'a SendMessage to a regional endpoint', host: 'sqs.eu-west-1.amazonaws.com', path: '/', body: JSON.stringify({ QueueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/tm-cassandra_geo', MessageBody: '{"task":"é ✓"}' }), credentials: KEYS, region: 'eu-west-1' },
    { what: 'temporary credentials (a session token)', host: 'sqs.us-east-1.amazonaws.com', path: '/', body: '{"QueueName":"tm-global"}', credentials: { ...KEYS, sessionToken: 'IQoJb3JpZ2luX2VjEXAMPLE//+token==' }, region: 'us-east-1' },
    { what: 'an emulator on a port, under a path (as sent: percent-encoded)', host: '127.0.0.1:4566', path: new URL('http://127.0.0.1:4566/sqs proxy/v1').pathname, body: '{}', credentials: KEYS, region: 'us-west-2' },
  ];
  for (const c of cases) {
    it(`signs ${c.what} exactly as the AWS SDK does`, async () => {
      const headers = { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AmazonSQS.SendMessage', 'x-amzn-query-mode': 'true' };
      const ours = new SigV4Signer(c.region, 'sqs').sign({ method: 'POST', host: c.host, path: c.path, headers, body: c.body }, c.credentials, TIME);
      const sdk = await sdkSign({ host: c.host, path: c.path, headers, body: c.body }, c.credentials, c.region, 'sqs', TIME);
      assert.equal(ours.authorization, sdk.authorization);
      assert.equal(ours['x-amz-date'], sdk['x-amz-date']);
      assert.equal(ours['x-amz-security-token'], sdk['x-amz-security-token']);
    });
  }

  it('uses a new signing key when the day or the secret changes (a key is per day)', async () => {
    const signer = new SigV4Signer('us-east-1', 'sqs');
    const req = { method: 'POST', host: 'sqs.us-east-1.amazonaws.com', path: '/', headers: { 'x-amz-target': 'AmazonSQS.ListQueues' }, body: '{}' };
    const nextDay = new Date(TIME.getTime() + 3_000);
    const rotated = { ...KEYS, secretAccessKey: 'another-secret' };
    for (const [creds, time] of [[KEYS, TIME], [KEYS, nextDay], [rotated, nextDay]] as const) {
      const ours = signer.sign(req, creds, time);
      const sdk = await sdkSign(req, creds, 'us-east-1', 'sqs', time);
      assert.equal(ours.authorization, sdk.authorization);
    }
  });
});
