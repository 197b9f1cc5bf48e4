// The one error-mapping place (cli/handle-error.ts): every error a command can meet becomes one line per
// problem and a documented exit code; never a stack trace, never "unexpected error" for a known condition;
// under --json the same error is also a JSON object on stdout (validated against `schema --output error`).
import assert from 'node:assert/strict';
import { CommanderError } from 'commander';
import { CoordinatorError } from '../../core/coordination/coordinator.js';
import { BackendError, NotFoundError, OptionError, SpecError, SqsError } from '../../core/errors.js';
import { QueueDoesNotExistError } from '../../core/queue/work-queue.js';
import { describeFailure, EXIT, formatError, inContext, reportFailure } from '../../cli/handle-error.js';
import { outputJsonSchema } from '../../cli/output/outputs.js';
import { validateJsonSchema } from '../support/json-schema.js';

const noStack = (s: string) => assert.ok(!/\n\s+at /.test(s), `no stack trace in:\n${s}`);

function report(err: unknown, args: string[]): { code: number; stdout: string; stderr: string } {
  let stdout = '';
  let stderr = '';
  const code = reportFailure(err, args, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) });
  return { code, stdout, stderr };
}

describe('handle-error: one line and one exit code per error', () => {
  it('a missing queue names the queue, region and prefix and what to do; exit 3 (was: unexpected error + stack, exit 1)', () => {
    const err = inContext(new QueueDoesNotExistError('taskerman--global'), { region: 'eu-west-3', queuePrefix: 'taskerman', zk: 'z:2181' });
    const r = report(err, ['run', 'noop']);
    assert.equal(r.code, EXIT.backend);
    assert.equal(r.stdout, '');
    assert.equal(
      r.stderr,
      'taskerman: queue taskerman--global does not exist in region eu-west-3 (queue prefix "taskerman") (check --region / AWS_REGION and --queue-prefix / TASKERMAN_QUEUE_PREFIX, or apply terraform/ to create the global queues)\n',
    );
  });

  it('ZooKeeper connection loss while a command works: exit 3, one line naming ZooKeeper (was: exit 1, stack trace)', () => {
    const err = inContext(new CoordinatorError('CONNECTION_LOSS', '/taskerman/tasks/x', 'not connected to ZooKeeper (suspended)'), { zk: '127.0.0.1:2181' });
    const r = report(err, ['status', 'x']);
    assert.equal(r.code, EXIT.backend);
    assert.equal(r.stderr, 'taskerman: lost ZooKeeper at 127.0.0.1:2181 (connection loss) (is the ensemble up? check --zk / TASKERMAN_ZK)\n');
    // And even without the command's context it is exit 3, not "unexpected".
    const bare = report(new CoordinatorError('CONNECTION_LOSS', '/x', 'not connected'), []);
    assert.equal(bare.code, EXIT.backend);
    assert.doesNotMatch(bare.stderr, /unexpected|internal/);
  });

  it('a spec error prints one line per problem, as the README shows, exit 2', () => {
    const err = new SpecError([
      { file: 'tasks/x.yaml', field: 'limit', message: 'must be a positive integer or a percentage like "10%"' },
      { file: 'tasks/x.yaml', field: 'limt', message: 'unknown field "limt": did you mean `limit`?' },
    ]);
    const r = report(err, ['validate']);
    assert.equal(r.code, EXIT.usage);
    assert.equal(r.stderr, 'tasks/x.yaml: limit: must be a positive integer or a percentage like "10%"\ntasks/x.yaml: limt: unknown field "limt": did you mean `limit`?\n');
  });

  it('AWS credential and permission errors say what to do; exit 3', () => {
    const creds = Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' });
    const a = describeFailure(creds);
    assert.equal(a.exit, EXIT.backend);
    assert.equal(a.message, 'AWS refused the call: CredentialsProviderError: Could not load credentials from any providers');
    assert.match(a.hint ?? '', /AWS_PROFILE/);
    const denied = new SqsError('SendMessage', 'taskerman--global', Object.assign(new Error('not authorized'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }));
    const d = describeFailure(denied);
    assert.equal(d.exit, EXIT.backend);
    assert.match(d.hint ?? '', /IAM policies in terraform/);
  });

  it('a bug is one line with no stack trace (unless TASKERMAN_DEBUG=1), never dressed as a known condition', () => {
    const r = report(new TypeError("Cannot read properties of undefined (reading 'x')\n    at foo (bar.ts:1:1)"), ['tasks']);
    assert.equal(r.code, EXIT.failed);
    assert.equal(r.stderr.split('\n').filter(Boolean).length, 1, r.stderr);
    assert.match(r.stderr, /^taskerman: internal error: TypeError: /);
    noStack(r.stderr);
  });

  it('the exit codes of the README table: usage 2, not found 1, backend 3', () => {
    assert.equal(describeFailure(new OptionError('limit', 'bad')).exit, 2);
    assert.equal(describeFailure(new NotFoundError('task x')).exit, 1);
    assert.equal(describeFailure(new BackendError('sqs', 'down')).exit, 3);
    assert.equal(describeFailure(new CommanderError(1, 'commander.unknownOption', "error: unknown option '--x'")).exit, 2);
  });

  it('under --json the error is also a JSON object on stdout, valid against `schema --output error`, same exit code', () => {
    const schema = outputJsonSchema('error');
    for (const [err, exit] of [
      [new SpecError([{ file: 'a.yaml', field: 'limit', message: 'bad' }]), 2],
      [inContext(new QueueDoesNotExistError('p--global'), { region: 'us-east-1', queuePrefix: 'p' }), 3],
      [new NotFoundError('task x', { hint: 'list tasks' }), 1],
      [new CommanderError(1, 'commander.missingArgument', "error: missing required argument 'task_id'"), 2],
    ] as const) {
      const r = report(err, ['status', 'x', '--json']);
      assert.equal(r.code, exit);
      const doc = JSON.parse(r.stdout) as { error: { exit_code: number; code: string } };
      assert.deepEqual(validateJsonSchema(schema, doc), []);
      assert.equal(doc.error.exit_code, exit);
      noStack(r.stderr);
    }
    // Without --json nothing goes to stdout; a `--json` after `--` is not ours.
    assert.equal(report(new NotFoundError('task x'), ['status', 'x']).stdout, '');
    assert.equal(report(new NotFoundError('task x'), ['run', 'exec', '--', '--json']).stdout, '');
    assert.equal(formatError(new NotFoundError('task x', { hint: 'h' })), 'taskerman: task x not found (h)');
  });
});
