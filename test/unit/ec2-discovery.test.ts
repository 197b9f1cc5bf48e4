// The EC2-tag Discovery adapter: DescribeInstances pagination, filters, node-name sources, skipping and
// de-duplication, and the mapping of AWS failures. The SDK is mocked with aws-sdk-client-mock; a small
// EC2-protocol HTTP server on loopback checks what the real client sends and that the SDK's retry is on.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  DescribeInstancesCommand,
  EC2Client,
  EC2ServiceException,
  type DescribeInstancesCommandInput,
  type DescribeInstancesCommandOutput,
  type Instance,
  type InstanceStateName,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { DiscoveryError, resolveTargets } from '../../core/discovery/discovery.js';
import { Ec2TagDiscovery, EC2_DISCOVERY_IAM_ACTION, nodeNameOf } from '../../core/discovery/ec2-discovery.js';
import { compileEc2TagDiscoveryOptions, type Ec2TagDiscoveryOptions } from '../../core/discovery/ec2-discovery-options.js';
import { BackendError, OptionError, TaskermanError } from '../../core/errors.js';
import { createLogger } from '../../core/logger.js';
import { parseTaskSpec, type TaskSpec } from '../../core/task/task-spec.js';

const CLUSTER = 'cassandra:geo_counter';
const TAG = 'taskerman:cluster';
const CREDENTIALS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };

const STATE_CODES: Record<string, number> = { pending: 0, running: 16, 'shutting-down': 32, terminated: 48, stopping: 64, stopped: 80 };

interface Fixture {
  id: string;
  state: InstanceStateName;
  ip: string;
  name?: string;
  cluster?: string;
}

/** An instance as DescribeInstances returns it, with the fields a real answer carries around the ones we read. */
function instance(f: Fixture): Instance {
  const gone = f.state === 'terminated';
  const tags = [
    ...(f.name !== undefined ? [{ Key: 'Name', Value: f.name }] : []),
    { Key: TAG, Value: f.cluster ?? CLUSTER },
    { Key: 'team', Value: 'storage' },
  ];
  return {
    InstanceId: f.id,
    ImageId: 'ami-0c55b159cbfafe1f0',
    InstanceType: 'i4i.2xlarge',
    LaunchTime: new Date('2024-05-02T09:14:00Z'),
    Placement: { AvailabilityZone: 'eu-west-1a', Tenancy: 'default' },
    State: { Code: STATE_CODES[f.state] ?? 0, Name: f.state },
    // A terminated instance has lost its network interface: EC2 answers empty strings.
    PrivateDnsName: gone ? '' : `ip-${f.ip.replace(/\./g, '-')}.eu-west-1.compute.internal`,
    PrivateIpAddress: gone ? undefined : f.ip,
    SubnetId: gone ? undefined : 'subnet-0bb1c79de3EXAMPLE',
    VpcId: gone ? undefined : 'vpc-0a1b2c3d4EXAMPLE',
    Tags: tags,
  };
}

function reservation(id: string, fixtures: Fixture[]) {
  return { ReservationId: id, OwnerId: '123456789012', Groups: [], Instances: fixtures.map(instance) };
}

const I = {
  geo1: { id: 'i-0a1b2c3d4e5f60001', state: 'running', ip: '10.0.1.11', name: 'cass-geo-1' },
  geo2: { id: 'i-0a1b2c3d4e5f60002', state: 'running', ip: '10.0.1.12', name: 'cass-geo-2' },
  geo3pending: { id: 'i-0a1b2c3d4e5f60003', state: 'pending', ip: '10.0.1.13', name: 'cass-geo-3' },
  geo10: { id: 'i-0a1b2c3d4e5f60004', state: 'running', ip: '10.0.2.9', name: 'cass-geo-10' },
  geo5stopping: { id: 'i-0a1b2c3d4e5f60005', state: 'stopping', ip: '10.0.1.15', name: 'cass-geo-5' },
  noName1: { id: 'i-0a1b2c3d4e5f60006', state: 'running', ip: '10.0.1.100' },
  geo7terminated: { id: 'i-0a1b2c3d4e5f60007', state: 'terminated', ip: '10.0.1.17', name: 'cass-geo-7' },
  geo4: { id: 'i-0a1b2c3d4e5f60008', state: 'running', ip: '10.0.3.7', name: 'cass-geo-4' },
  geo11: { id: 'i-0a1b2c3d4e5f60009', state: 'running', ip: '10.0.1.9', name: 'cass-geo-11' },
  noName2: { id: 'i-0a1b2c3d4e5f6000a', state: 'running', ip: '10.0.2.10' },
  otherCluster: { id: 'i-0a1b2c3d4e5f6000b', state: 'running', ip: '10.0.4.4', name: 'kafka-1', cluster: 'kafka:main' },
  geo12shutting: { id: 'i-0a1b2c3d4e5f6000c', state: 'shutting-down', ip: '10.0.1.20', name: 'cass-geo-12' },
} satisfies Record<string, Fixture>;

/**
 * Three pages, the way EC2 pages by reservation: mixed states (a mock, like some emulators, ignores the
 * state filter), instances without a Name tag, i-...0002 on pages 1 and 2, one instance of another cluster.
 */
const PAGES: Record<string, DescribeInstancesCommandOutput> = {
  first: {
    $metadata: { httpStatusCode: 200, requestId: 'req-1' },
    Reservations: [reservation('r-0f1e2d3c4b5a60001', [I.geo1, I.geo2, I.geo3pending]), reservation('r-0f1e2d3c4b5a60002', [I.geo10])],
    NextToken: 'eyJ2IjoiMiIsImMiOiJwYWdlLTIifQ==',
  },
  'eyJ2IjoiMiIsImMiOiJwYWdlLTIifQ==': {
    $metadata: { httpStatusCode: 200, requestId: 'req-2' },
    Reservations: [
      reservation('r-0f1e2d3c4b5a60003', [I.geo5stopping, I.noName1, I.geo2]),
      reservation('r-0f1e2d3c4b5a60004', [I.geo7terminated, I.geo4]),
    ],
    NextToken: 'eyJ2IjoiMiIsImMiOiJwYWdlLTMifQ==',
  },
  'eyJ2IjoiMiIsImMiOiJwYWdlLTMifQ==': {
    $metadata: { httpStatusCode: 200, requestId: 'req-3' },
    Reservations: [reservation('r-0f1e2d3c4b5a60005', [I.geo11, I.noName2, I.otherCluster, I.geo12shutting])],
  },
};

const spec = (cluster = CLUSTER): TaskSpec => parseTaskSpec({ name: 'geo-restart', action: 'noop', cluster, discovery: 'aws_tags' });

interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

function capture() {
  const lines: LogLine[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) } });
  return { lines, logger, warnings: () => lines.filter((l) => l.level === 40) };
}

function awsError(name: string, message: string, status: number, fault: 'client' | 'server' = 'client', attempts = 1): EC2ServiceException {
  return new EC2ServiceException({ name, message, $fault: fault, $metadata: { httpStatusCode: status, requestId: 'req-x', attempts, totalRetryDelay: 0 } });
}

describe('Ec2TagDiscovery (aws_tags)', () => {
  const ec2 = new EC2Client({ region: 'eu-west-1', credentials: CREDENTIALS });
  const mock = mockClient(ec2);

  beforeEach(() => {
    mock.reset();
    mock.on(DescribeInstancesCommand).callsFake((input: DescribeInstancesCommandInput) => {
      const page = PAGES[input.NextToken ?? 'first'];
      if (!page) throw awsError('InvalidParameterValue', `Invalid NextToken ${String(input.NextToken)}`, 400);
      return page;
    });
  });
  after(() => mock.restore());

  const discovery = (o: Ec2TagDiscoveryOptions = {}) => new Ec2TagDiscovery({ ec2, ...o });
  const inputs = () => mock.commandCalls(DescribeInstancesCommand).map((c) => c.args[0].input);

  it('follows NextToken across every page, sending the tag and state filters each time', async () => {
    const d = discovery({ nodeId: 'tag:Name' });
    assert.equal(d.kind, 'aws_tags');
    await d.resolve(spec());
    const sent = inputs();
    assert.equal(sent.length, 3);
    assert.deepEqual(
      sent.map((i) => i.NextToken),
      [undefined, 'eyJ2IjoiMiIsImMiOiJwYWdlLTIifQ==', 'eyJ2IjoiMiIsImMiOiJwYWdlLTMifQ=='],
    );
    for (const i of sent) {
      assert.deepEqual(i.Filters, [
        { Name: 'tag:taskerman:cluster', Values: [CLUSTER] },
        { Name: 'instance-state-name', Values: ['running'] },
      ]);
      assert.equal(i.MaxResults, 1000);
      assert.equal(i.InstanceIds, undefined, 'MaxResults cannot be combined with InstanceIds');
    }
  });

  it('uses the configured tag key and page size', async () => {
    await discovery({ tagKey: 'cluster', pageSize: 50 }).resolve(spec());
    const first = inputs()[0];
    assert.deepEqual(first?.Filters?.[0], { Name: 'tag:cluster', Values: [CLUSTER] });
    assert.equal(first?.MaxResults, 50);
  });

  it('tag:Name: running instances of the cluster, once each, sorted numerically; unnamed ones skipped with a warning', async () => {
    const log = capture();
    const nodes = await discovery({ nodeId: 'tag:Name', logger: log.logger }).resolve(spec());
    // pending, stopping, shutting-down, terminated and the other cluster's instance are out; geo-2 is listed once.
    assert.deepEqual(nodes, ['cass-geo-1', 'cass-geo-2', 'cass-geo-4', 'cass-geo-10', 'cass-geo-11']);
    const w = log.warnings();
    assert.equal(w.length, 1, JSON.stringify(w));
    assert.deepEqual(w[0]?.instance_ids, [I.noName1.id, I.noName2.id]);
    assert.match(w[0]?.msg ?? '', /2 running instance\(s\) of the cluster have no tag:Name/);
    assert.match(w[0]?.msg ?? '', new RegExp(`${I.noName1.id}, ${I.noName2.id}`));
    assert.equal(w[0]?.cluster, CLUSTER);
  });

  it('private-dns (the default): every running instance, by its VPC DNS name', async () => {
    const nodes = await discovery().resolve(spec());
    assert.deepEqual(nodes, [
      'ip-10-0-1-9.eu-west-1.compute.internal',
      'ip-10-0-1-11.eu-west-1.compute.internal',
      'ip-10-0-1-12.eu-west-1.compute.internal',
      'ip-10-0-1-100.eu-west-1.compute.internal',
      'ip-10-0-2-9.eu-west-1.compute.internal',
      'ip-10-0-2-10.eu-west-1.compute.internal',
      'ip-10-0-3-7.eu-west-1.compute.internal',
    ]);
  });

  it('private-ip', async () => {
    const nodes = await discovery({ nodeId: 'private-ip' }).resolve(spec());
    assert.deepEqual(nodes, ['10.0.1.9', '10.0.1.11', '10.0.1.12', '10.0.1.100', '10.0.2.9', '10.0.2.10', '10.0.3.7']);
  });

  it('instance-id', async () => {
    const nodes = await discovery({ nodeId: 'instance-id' }).resolve(spec());
    // Numeric-aware collation, as for every discovery: "...6000a" sorts before "...60001" (6000 < 60001).
    assert.deepEqual(nodes, [I.noName2, I.geo1, I.geo2, I.geo10, I.noName1, I.geo4, I.geo11].map((f) => f.id));
  });

  it('targets a name shared by two instances once, and says so', async () => {
    mock.on(DescribeInstancesCommand).resolves({
      Reservations: [reservation('r-1', [I.geo1, { ...I.geo2, name: 'cass-geo-1' }])],
    });
    const log = capture();
    const nodes = await discovery({ nodeId: 'tag:Name', logger: log.logger }).resolve(spec());
    assert.deepEqual(nodes, ['cass-geo-1']);
    assert.deepEqual(log.warnings()[0]?.instance_ids, [I.geo1.id, I.geo2.id]);
  });

  it('skips a node name that is not a valid node name, with a warning', async () => {
    mock.on(DescribeInstancesCommand).resolves({
      Reservations: [reservation('r-1', [I.geo1, { ...I.geo2, name: 'cass geo 2 (old)' }])],
    });
    const log = capture();
    const nodes = await discovery({ nodeId: 'tag:Name', logger: log.logger }).resolve(spec());
    assert.deepEqual(nodes, ['cass-geo-1']);
    assert.match(log.warnings()[0]?.msg ?? '', /i-0a1b2c3d4e5f60002 \("cass geo 2 \(old\)"\)/);
  });

  it('no instance at all: the router gets NO_TARGETS from resolveTargets', async () => {
    mock.on(DescribeInstancesCommand).resolves({ $metadata: {}, Reservations: [] });
    await assert.rejects(resolveTargets(spec('cassandra:empty'), { aws_tags: discovery() }), (err: unknown) => {
      assert.ok(err instanceof TaskermanError);
      assert.equal(err.code, 'NO_TARGETS');
      assert.match(err.message, /cassandra:empty/);
      return true;
    });
    assert.equal(inputs().length, 1);
  });

  it('running instances, none with the node id: a DiscoveryError that lists them rather than NO_TARGETS', async () => {
    mock.on(DescribeInstancesCommand).resolves({ Reservations: [reservation('r-1', [I.noName1, I.noName2])] });
    await assert.rejects(discovery({ nodeId: 'tag:Name' }).resolve(spec()), (err: unknown) => {
      assert.ok(err instanceof DiscoveryError);
      assert.match(err.message, /none has a usable tag:Name: i-0a1b2c3d4e5f60006, i-0a1b2c3d4e5f6000a/);
      return true;
    });
  });

  it('stops on a NextToken that comes back instead of paging forever', async () => {
    mock.on(DescribeInstancesCommand).resolves({ Reservations: [], NextToken: 'same' });
    await assert.rejects(discovery().resolve(spec()), (err: unknown) => err instanceof BackendError && err.backend === 'ec2');
    assert.equal(inputs().length, 2);
  });

  describe('failures', () => {
    for (const code of ['UnauthorizedOperation', 'AccessDenied']) {
      it(`${code}: one line naming ${EC2_DISCOVERY_IAM_ACTION}, not retried`, async () => {
        mock.on(DescribeInstancesCommand).rejects(
          awsError(code, 'You are not authorized to perform this operation. Encoded authorization failure message: Q2hlY2sgeW91ciBwb2xpY2llcw', 403),
        );
        await assert.rejects(discovery().resolve(spec()), (err: unknown) => {
          assert.ok(err instanceof DiscoveryError);
          assert.equal(err.code, 'DISCOVERY_FAILED');
          assert.equal(err.retryable, false);
          assert.equal(err.message, `EC2 DescribeInstances not allowed (${code}): the router's role needs ec2:DescribeInstances`);
          assert.ok(!err.message.includes('\n'));
          assert.equal((err.cause as Error).name, code);
          return true;
        });
      });
    }

    for (const [code, message] of [
      ['CredentialsProviderError', 'Could not load credentials from any providers'],
      ['AuthFailure', 'AWS was not able to validate the provided access credentials'],
      ['ExpiredToken', 'The security token included in the request is expired'],
      ['InvalidClientTokenId', 'The security token included in the request is invalid.'],
    ] as const) {
      it(`${code}: a DiscoveryError about credentials`, async () => {
        const err = code === 'CredentialsProviderError' ? Object.assign(new Error(message), { name: code }) : awsError(code, message, code === 'AuthFailure' ? 401 : 403);
        mock.on(DescribeInstancesCommand).rejects(err);
        await assert.rejects(discovery().resolve(spec()), (e: unknown) => {
          assert.ok(e instanceof DiscoveryError);
          assert.equal(e.message, `no valid AWS credentials for EC2 DescribeInstances (${code}: ${message})`);
          assert.match(e.hint ?? '', /instance role/);
          return true;
        });
      });
    }

    it('unreachable endpoint: BackendError(ec2), retryable', async () => {
      mock.on(DescribeInstancesCommand).rejects(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:4566'), { code: 'ECONNREFUSED' }));
      await assert.rejects(discovery().resolve(spec()), (err: unknown) => {
        assert.ok(err instanceof BackendError);
        assert.equal(err.backend, 'ec2');
        assert.equal(err.code, 'BACKEND_UNAVAILABLE');
        assert.equal(err.retryable, true);
        assert.match(err.message, /^cannot reach EC2 at .*ECONNREFUSED/);
        return true;
      });
    });

    it('still throttled after the SDK retries: BackendError, so the task message is redelivered later', async () => {
      mock.on(DescribeInstancesCommand).rejects(awsError('RequestLimitExceeded', 'Request limit exceeded.', 503, 'client', 5));
      await assert.rejects(discovery().resolve(spec()), (err: unknown) => {
        assert.ok(err instanceof BackendError);
        assert.equal(err.retryable, true);
        assert.equal(err.message, 'EC2 DescribeInstances failed after 5 attempt(s): RequestLimitExceeded: Request limit exceeded.');
        return true;
      });
    });

    it('a refused request of another kind: DiscoveryError with the AWS code', async () => {
      mock.on(DescribeInstancesCommand).rejects(awsError('InvalidParameterValue', 'The filter tag:x is invalid', 400));
      await assert.rejects(discovery().resolve(spec()), /EC2 DescribeInstances failed: InvalidParameterValue: The filter tag:x is invalid/);
    });
  });
});

describe('Ec2TagDiscovery options', () => {
  it('documents its defaults in one place', () => {
    const o = compileEc2TagDiscoveryOptions({}, {});
    assert.equal(o.region, 'us-east-1');
    assert.equal(o.endpoint, undefined);
    assert.equal(o.tagKey, 'taskerman:cluster');
    assert.equal(o.nodeId, 'private-dns');
    assert.equal(o.pageSize, 1000);
    assert.equal(o.maxAttempts, 5);
    assert.equal(o.retryMode, 'standard');
  });

  it('takes the endpoint from AWS_ENDPOINT_URL_EC2, then AWS_ENDPOINT_URL; the option wins', () => {
    assert.equal(compileEc2TagDiscoveryOptions({}, { AWS_ENDPOINT_URL_EC2: 'http://127.0.0.1:4566', AWS_ENDPOINT_URL: 'http://x:1' }).endpoint, 'http://127.0.0.1:4566');
    assert.equal(compileEc2TagDiscoveryOptions({}, { AWS_ENDPOINT_URL: 'http://x:1' }).endpoint, 'http://x:1');
    assert.equal(compileEc2TagDiscoveryOptions({ endpoint: 'https://ec2.eu-west-1.amazonaws.com' }, { AWS_ENDPOINT_URL_EC2: 'http://y:2' }).endpoint, 'https://ec2.eu-west-1.amazonaws.com');
    assert.equal(compileEc2TagDiscoveryOptions({}, { AWS_REGION: 'eu-west-1' }).region, 'eu-west-1');
  });

  it('refuses bad values, naming the field', () => {
    const bad: [Ec2TagDiscoveryOptions, RegExp][] = [
      [{ nodeId: 'hostname' as never }, /^nodeId: "hostname" must be instance-id, private-dns, private-ip or tag:<Key>/],
      [{ nodeId: 'tag:' }, /^nodeId: "" must be a tag key/],
      [{ tagKey: 'aws:cloudformation:stack-name' }, /^tagKey: .*reserved/],
      [{ pageSize: 2000 }, /^pageSize: must be an integer from 5 to 1000/],
      [{ pageSize: 4 }, /^pageSize:/],
      [{ maxAttempts: 0 }, /^maxAttempts:/],
      [{ endpoint: 'localhost:4566' }, /^ec2-endpoint: "localhost:4566" must be an http\(s\) URL/],
      [{ region: 'EU West' }, /^region:/],
      [{ retryMode: 'legacy' as never }, /^retryMode:/],
    ];
    for (const [o, re] of bad) {
      assert.throws(() => compileEc2TagDiscoveryOptions(o, {}), (err: unknown) => err instanceof OptionError && re.test(err.message), JSON.stringify(o));
    }
    assert.equal(compileEc2TagDiscoveryOptions({ nodeId: 'tag:Name' }, {}).nodeId, 'tag:Name');
  });

  it('reads a node name from each source, treating "" as missing', () => {
    const inst: Instance = { InstanceId: 'i-1', PrivateDnsName: '', PrivateIpAddress: '10.0.0.1', Tags: [{ Key: 'Name', Value: 'n1' }, { Key: 'Empty', Value: '' }] };
    assert.equal(nodeNameOf(inst, 'instance-id'), 'i-1');
    assert.equal(nodeNameOf(inst, 'private-dns'), undefined);
    assert.equal(nodeNameOf(inst, 'private-ip'), '10.0.0.1');
    assert.equal(nodeNameOf(inst, 'tag:Name'), 'n1');
    assert.equal(nodeNameOf(inst, 'tag:Empty'), undefined);
    assert.equal(nodeNameOf(inst, 'tag:Missing'), undefined);
  });
});

// The adapter with the client it builds itself, against an EC2-protocol server on loopback: the request on
// the wire, the endpoint option, the SDK's retry of throttling, and real SDK error deserialization.
describe('Ec2TagDiscovery with its own client (EC2 query protocol on loopback)', () => {
  let server: Server;
  let endpoint: string;
  let answers: ((res: ServerResponse) => void)[] = [];
  let bodies: URLSearchParams[] = [];

  const xml = (res: ServerResponse, status: number, body: string) => {
    res.writeHead(status, { 'content-type': 'text/xml;charset=UTF-8' });
    res.end(body);
  };
  const throttled = (res: ServerResponse) =>
    xml(res, 503, '<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>5f9d3b1e</RequestID></Response>');
  const denied = (res: ServerResponse) =>
    xml(res, 403, '<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation. User: arn:aws:sts::123456789012:assumed-role/router/i-0abc is not authorized to perform: ec2:DescribeInstances because no identity-based policy allows the ec2:DescribeInstances action</Message></Error></Errors><RequestID>6a0e4c2f</RequestID></Response>');
  const ok = (res: ServerResponse) =>
    xml(
      res,
      200,
      `<?xml version="1.0" encoding="UTF-8"?>
<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>8f7e6d5c</requestId>
  <reservationSet><item><reservationId>r-0f1e2d3c4b5a60001</reservationId><ownerId>123456789012</ownerId>
    <instancesSet>
      <item><instanceId>i-0a1b2c3d4e5f60001</instanceId><instanceState><code>16</code><name>running</name></instanceState>
        <privateDnsName>ip-10-0-1-11.eu-west-1.compute.internal</privateDnsName><privateIpAddress>10.0.1.11</privateIpAddress>
        <tagSet><item><key>taskerman:cluster</key><value>${CLUSTER}</value></item><item><key>Name</key><value>cass-geo-1</value></item></tagSet></item>
    </instancesSet></item></reservationSet>
</DescribeInstancesResponse>`,
    );

  before(async () => {
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        bodies.push(new URLSearchParams(body));
        (answers.shift() ?? ok)(res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  beforeEach(() => {
    answers = [];
    bodies = [];
  });

  const own = (o: Ec2TagDiscoveryOptions = {}) => new Ec2TagDiscovery({ region: 'eu-west-1', endpoint, credentials: CREDENTIALS, ...o });

  it('sends DescribeInstances with the filters to the endpoint, and retries throttling', async () => {
    answers = [throttled, throttled];
    const d = own({ nodeId: 'tag:Name', maxAttempts: 3 });
    try {
      assert.deepEqual(await d.resolve(spec()), ['cass-geo-1']);
    } finally {
      d.close();
    }
    assert.equal(bodies.length, 3, 'two throttled answers, then the page');
    const p = bodies[2] as URLSearchParams;
    assert.equal(p.get('Action'), 'DescribeInstances');
    assert.equal(p.get('Filter.1.Name'), 'tag:taskerman:cluster');
    assert.equal(p.get('Filter.1.Value.1'), CLUSTER);
    assert.equal(p.get('Filter.2.Name'), 'instance-state-name');
    assert.equal(p.get('Filter.2.Value.1'), 'running');
    assert.equal(p.get('MaxResults'), '1000');
  });

  it('gives up after maxAttempts with a retryable BackendError', async () => {
    answers = [throttled, throttled];
    const d = own({ maxAttempts: 2 });
    try {
      await assert.rejects(d.resolve(spec()), (err: unknown) => err instanceof BackendError && /after 2 attempt\(s\): RequestLimitExceeded/.test(err.message));
    } finally {
      d.close();
    }
  });

  it('maps the real UnauthorizedOperation answer to the one-line permission error', async () => {
    answers = [denied];
    const d = own();
    try {
      await assert.rejects(d.resolve(spec()), {
        name: 'DiscoveryError',
        message: "EC2 DescribeInstances not allowed (UnauthorizedOperation): the router's role needs ec2:DescribeInstances",
      });
    } finally {
      d.close();
    }
    assert.equal(bodies.length, 1, 'a refusal is not retried');
  });

  it('names the endpoint when nothing listens there', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const dead = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const d = new Ec2TagDiscovery({ region: 'eu-west-1', endpoint: dead, credentials: CREDENTIALS, maxAttempts: 1 });
    try {
      await assert.rejects(d.resolve(spec()), (err: unknown) => err instanceof BackendError && err.message.startsWith(`cannot reach EC2 at ${dead}: ECONNREFUSED`));
    } finally {
      d.close();
    }
  });
});
