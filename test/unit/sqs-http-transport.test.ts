// SqsHttpTransport against a scripted HTTP server on 127.0.0.1: what goes on the wire (the JSON protocol,
// signed), how SQS's errors read, what is retried and what is not (throttling, 5xx, dropped connections, a
// skewed clock; never a sender fault), the MD5 checks, abort and timeouts. The whole adapter over the wire is
// test/integration/sqs-work-queue.test.ts (the WorkQueue contract against fauxqs).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { publicSqsEndpoint, SqsHttpTransport, SqsServiceError, type SqsHttpTransportOptions } from '../../core/queue/sqs-http-transport.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

type Answer = (req: Seen, res: ServerResponse) => void;

/** The time of an x-amz-date header (20261130T235958Z). */
function fromAmzDate(v: string | string[] | undefined): number {
  const m = /^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/.exec(String(v));
  assert.ok(m, `not an x-amz-date: ${String(v)}`);
  return Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`);
}

const md5 = (s: string) => createHash('md5').update(s, 'utf8').digest('hex');

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', ...headers });
  res.end(JSON.stringify(body));
}

describe('SqsHttpTransport', () => {
  let server: Server;
  let endpoint: string;
  let seen: Seen[];
  let script: Answer[];
  let transport: SqsHttpTransport | undefined;

  const make = (opts: Partial<SqsHttpTransportOptions> = {}) =>
    (transport = new SqsHttpTransport({
      region: 'eu-west-1',
      endpoint,
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
      maxAttempts: 3,
      connectTimeoutMs: 2000,
      requestTimeoutMs: 5000,
      ...opts,
    }));

  beforeEach(async () => {
    seen = [];
    script = [];
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const s = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
        seen.push(s);
        const answer = script.shift();
        if (answer) answer(s, res);
        else json(res, 200, {});
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    transport?.destroy();
    transport = undefined;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('POSTs the input as AWS JSON 1.0 with the operation in X-Amz-Target, signed for sqs in its region', async () => {
    script.push((_req, res) => json(res, 200, { QueueUrl: 'http://sqs.local/000000000000/tm-global' }));
    const out = await make().call('GetQueueUrl', { QueueName: 'tm-global' });
    assert.deepEqual(out, { QueueUrl: 'http://sqs.local/000000000000/tm-global' });
    const [req] = seen;
    assert.equal(req?.method, 'POST');
    assert.equal(req?.url, '/');
    assert.equal(req?.headers['content-type'], 'application/x-amz-json-1.0');
    assert.equal(req?.headers['x-amz-target'], 'AmazonSQS.GetQueueUrl');
    assert.equal(req?.headers['x-amzn-query-mode'], 'true');
    assert.deepEqual(JSON.parse(req?.body ?? ''), { QueueName: 'tm-global' });
    assert.match(
      String(req?.headers.authorization),
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/sqs\/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target;x-amzn-query-mode, Signature=[0-9a-f]{64}$/,
    );
  });

  it('asks a credentials provider on each call and sends its session token', async () => {
    let asked = 0;
    const t = make({
      credentials: () => {
        asked++;
        return Promise.resolve({ accessKeyId: `AKID${asked}`, secretAccessKey: 's', sessionToken: `token-${asked}` });
      },
    });
    await t.call('ListQueues', {});
    await t.call('ListQueues', {});
    assert.equal(asked, 2);
    assert.equal(seen[1]?.headers['x-amz-security-token'], 'token-2');
    assert.match(String(seen[1]?.headers.authorization), /Credential=AKID2\/.*SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target;x-amzn-query-mode,/);
  });

  it('reads an SQS error: the type without its namespace, the query code, the status; a sender fault is not retried', async () => {
    script.push((_req, res) =>
      json(res, 400, { __type: 'com.amazonaws.sqs#QueueDoesNotExist', message: 'The specified queue does not exist.' }, { 'x-amzn-query-error': 'AWS.SimpleQueueService.NonExistentQueue;Sender', 'x-amzn-requestid': 'req-1' }),
    );
    const err = await make().call('GetQueueUrl', { QueueName: 'nope' }).then(
      () => assert.fail('resolved'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof SqsServiceError);
    assert.equal(err.name, 'QueueDoesNotExist');
    assert.equal(err.Code, 'AWS.SimpleQueueService.NonExistentQueue');
    assert.equal(err.message, 'The specified queue does not exist.');
    assert.deepEqual(err.$metadata, { httpStatusCode: 400, requestId: 'req-1' });
    assert.equal(err.$fault, 'client');
    assert.equal(seen.length, 1);
  });

  it('names an error without a JSON body (a proxy page) by its status', async () => {
    script.push((_req, res) => {
      res.writeHead(403, { 'content-type': 'text/html' });
      res.end('<html>Forbidden</html>');
    });
    await assert.rejects(make().call('ListQueues', {}), (e: SqsServiceError) => e.name === 'Http403' && e.$metadata.httpStatusCode === 403);
  });

  it('retries throttling and 5xx answers, then succeeds', async () => {
    script.push((_req, res) => json(res, 400, { __type: 'com.amazonaws.sqs#ThrottlingException', message: 'slow down' }));
    script.push((_req, res) => json(res, 503, { __type: 'com.amazonaws.sqs#ServiceUnavailable', message: 'try again' }));
    script.push((_req, res) => json(res, 200, { QueueUrls: ['u'] }));
    const out = await make().call('ListQueues', {});
    assert.deepEqual(out, { QueueUrls: ['u'] });
    assert.equal(seen.length, 3);
  });

  it('gives up after maxAttempts with the last error', async () => {
    for (let i = 0; i < 5; i++) script.push((_req, res) => json(res, 500, { __type: 'InternalError', message: `failure ${i + 1}` }));
    await assert.rejects(make({ maxAttempts: 2 }).call('ListQueues', {}), (e: SqsServiceError) => e.name === 'InternalError' && e.message === 'failure 2' && e.$fault === 'server');
    assert.equal(seen.length, 2);
  });

  it('retries a connection dropped before the answer', async () => {
    script.push((_req, res) => res.socket?.destroy());
    script.push((_req, res) => json(res, 200, { QueueUrl: 'u' }));
    assert.deepEqual(await make().call('GetQueueUrl', { QueueName: 'q' }), { QueueUrl: 'u' });
    assert.equal(seen.length, 2);
  });

  it('corrects its clock from the Date of a clock-skew error and signs the retry with the service time', async () => {
    const serviceTime = new Date(Date.now() + 3_600_000);
    script.push((_req, res) =>
      json(res, 403, { __type: 'com.amazonaws.sqs#SignatureDoesNotMatch', message: 'Signature expired' }, { date: serviceTime.toUTCString() }),
    );
    script.push((_req, res) => json(res, 200, {}));
    await make().call('ListQueues', {});
    assert.equal(seen.length, 2);
    // The retry is signed an hour ahead of this machine's clock (the first attempt), to the service's second.
    const skew = fromAmzDate(seen[1]?.headers['x-amz-date']) - fromAmzDate(seen[0]?.headers['x-amz-date']);
    assert.ok(skew > 3_500_000 && skew < 3_700_000, `the retry was signed ${skew} ms after the first attempt`);
  });

  it('checks the MD5 of a sent and of a received body', async () => {
    const t = make({ maxAttempts: 1 });
    script.push((_req, res) => json(res, 200, { MessageId: 'm1', MD5OfMessageBody: md5('hello') }));
    await t.call('SendMessage', { QueueUrl: 'u', MessageBody: 'hello' });
    script.push((_req, res) => json(res, 200, { MessageId: 'm2', MD5OfMessageBody: md5('something else') }));
    await assert.rejects(t.call('SendMessage', { QueueUrl: 'u', MessageBody: 'hello' }), { name: 'InvalidChecksum' });
    script.push((_req, res) => json(res, 200, { Messages: [{ MessageId: 'm3', ReceiptHandle: 'r', Body: 'hello', MD5OfBody: md5('hellO') }] }));
    await assert.rejects(t.call('ReceiveMessage', { QueueUrl: 'u' }), { name: 'InvalidChecksum' });
    script.push((_req, res) => json(res, 200, { Successful: [{ Id: 'a', MessageId: 'm4', MD5OfMessageBody: md5('one') }, { Id: 'b', MessageId: 'm5', MD5OfMessageBody: md5('TWO') }], Failed: [] }));
    await assert.rejects(
      t.call('SendMessageBatch', { QueueUrl: 'u', Entries: [{ Id: 'a', MessageBody: 'one' }, { Id: 'b', MessageBody: 'two' }] }),
      (e: Error) => e.name === 'InvalidChecksum' && e.message.includes('batch entry b'),
    );
  });

  it('ends a call in flight when its signal aborts, with an AbortError and no retry', async () => {
    script.push(() => undefined); // a long poll the server holds
    const ac = new AbortController();
    const call = make().call('ReceiveMessage', { QueueUrl: 'u', WaitTimeSeconds: 20 }, ac.signal);
    for (let i = 0; i < 400 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    ac.abort();
    await assert.rejects(call, { name: 'AbortError' });
    assert.equal(seen.length, 1);
  });

  it('fails an attempt whose socket stays silent past requestTimeoutMs with a TimeoutError', async () => {
    script.push(() => undefined);
    await assert.rejects(make({ maxAttempts: 1, requestTimeoutMs: 100 }).call('ListQueues', {}), { name: 'TimeoutError' });
  });

  it('finds the public endpoint of each partition, FIPS and dual-stack as the environment says', () => {
    assert.equal(publicSqsEndpoint('eu-west-1', {}), 'https://sqs.eu-west-1.amazonaws.com');
    assert.equal(publicSqsEndpoint('cn-north-1', {}), 'https://sqs.cn-north-1.amazonaws.com.cn');
    assert.equal(publicSqsEndpoint('us-east-1', { AWS_USE_FIPS_ENDPOINT: 'true' }), 'https://sqs-fips.us-east-1.amazonaws.com');
    assert.equal(publicSqsEndpoint('us-gov-west-1', { AWS_USE_FIPS_ENDPOINT: 'true' }), 'https://sqs.us-gov-west-1.amazonaws.com');
    assert.equal(publicSqsEndpoint('us-east-2', { AWS_USE_DUALSTACK_ENDPOINT: 'true' }), 'https://sqs.us-east-2.api.aws');
    assert.equal(publicSqsEndpoint('us-iso-east-1', {}), 'https://sqs.us-iso-east-1.c2s.ic.gov');
  });
});
