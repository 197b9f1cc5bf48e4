// The smaller truths of issue 8: a dead-letter queue that does not exist is not an empty one (item 6), a
// dead-letter reason prints its code once (item 10), unknown --config keys are refused with the key named
// (item 9), colour follows the terminal and NO_COLOR (item 12), `tasks --since` parses what it says.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { resolveCommon } from '../../cli/config.js';
import { resolveRunnerConfig } from '../../cli/runner-config.js';
import { inContext, formatError } from '../../cli/handle-error.js';
import { useColour } from '../../cli/output/colour.js';
import { parseSince, parseTaskStates } from '../../cli/commands/tasks.js';
import { SpecError, OptionError } from '../../core/errors.js';
import { didYouMean } from '../../core/did-you-mean.js';
import { sendToDeadLetter } from '../../core/queue/dead-letter.js';
import { deadLetterQueues, listDeadLetters } from '../../core/queue/dead-letters.js';
import { MemoryQueueStore, MemoryWorkQueue } from '../../core/queue/memory-work-queue.js';
import { queueNames } from '../../core/queue/queue-names.js';
import { QueueDoesNotExistError } from '../../core/queue/work-queue.js';

describe('dead letters tell the truth', () => {
  let queue: MemoryWorkQueue;
  const names = queueNames('tp');
  beforeEach(async () => {
    queue = new MemoryWorkQueue({ store: new MemoryQueueStore() });
    await queue.ensureQueue({ name: names.global, deadLetter: names.globalDlq, maxReceiveCount: 10, visibilityTimeoutSec: 30 });
    await queue.ensureQueue({ name: names.cluster('c:1'), deadLetter: names.clusterDlq('c:1'), maxReceiveCount: 10, visibilityTimeoutSec: 30 });
  });
  afterEach(() => queue.close());

  it('a misspelt --cluster is an error naming the queue and the known ones, not "no dead letters"', async () => {
    await assert.rejects(deadLetterQueues(queue, names, 'c:2'), (err: unknown) => {
      assert.ok(err instanceof QueueDoesNotExistError);
      const line = formatError(inContext(err, { region: 'eu-west-1', queuePrefix: 'tp' }));
      assert.match(line, new RegExp(`^taskerman: queue ${names.clusterDlq('c:2')} does not exist in region eu-west-1 \\(queue prefix "tp"\\) \\(no dead-letter queue for cluster "c:2": check the spelling of --cluster \\(dead-letter queues with this prefix: ${names.clusterDlq('c:1')}\\)`));
      return true;
    });
    assert.deepEqual(await deadLetterQueues(queue, names, 'c:1'), [names.clusterDlq('c:1')]);
  });

  it('a wrong prefix (no global dead-letter queue) is an error too, not an all-clear', async () => {
    await assert.rejects(deadLetterQueues(queue, queueNames('tpx')), (err: unknown) => err instanceof QueueDoesNotExistError && err.queue === 'tpx--global-dlq');
    assert.deepEqual(await deadLetterQueues(queue, names), [names.clusterDlq('c:1'), names.globalDlq].sort());
  });

  it('prints a reason with its code once (was "TIMEOUT: TIMEOUT: ...")', async () => {
    await sendToDeadLetter(queue, names.clusterDlq('c:1'), '{}', { reason: 'TIMEOUT: timed out after 1800s', code: 'TIMEOUT', source: names.cluster('c:1'), taskId: 't-1', node: 'a', attempts: 2 });
    const [d] = await listDeadLetters(queue, [names.clusterDlq('c:1')]);
    assert.equal(d?.code, 'TIMEOUT');
    assert.equal(d?.reason, 'timed out after 1800s');
  });
});

describe('--config refuses unknown keys (was: silently ignored)', () => {
  let dir = '';
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'taskerman-config-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('names the key and the one meant', async () => {
    const file = path.join(dir, 'c.yaml');
    await writeFile(file, 'zk: 127.0.0.1:2181\nzk_rot: /other\n');
    assert.throws(
      () => resolveCommon({ config: file }),
      (err: unknown) => {
        assert.ok(err instanceof SpecError);
        assert.deepEqual(err.issues, [{ file, field: 'zk_rot', message: 'unknown key: did you mean `zk_root`? (known keys: zk, zk_root, region, sqs_endpoint, queue_prefix, log_level, cluster, node, exec, zone, checks, actions, service_manager, plugins)' }]);
        return true;
      },
    );
  });

  it('accepts the shipped runner config', () => {
    const cfg = resolveRunnerConfig(resolveCommon({ config: 'examples/runner-config.yaml' }));
    assert.equal(cfg.zkRoot, '/taskerman');
    assert.ok(Object.keys(cfg.exec).includes('restart-cassandra'));
  });

  it('did-you-mean finds near misses and nothing for far ones', () => {
    assert.equal(didYouMean('limt', ['limit', 'max_failures']), 'limit');
    assert.equal(didYouMean('lmiit', ['limit']), 'limit');
    assert.equal(didYouMean('colour', ['limit', 'name']), undefined);
  });
});

describe('colour and filters', () => {
  it('colour on a TTY only; never with NO_COLOR, TERM=dumb or when piped', () => {
    assert.equal(useColour({ isTTY: true }, {}), true);
    assert.equal(useColour({ isTTY: false }, {}), false);
    assert.equal(useColour({}, {}), false);
    assert.equal(useColour({ isTTY: true }, { NO_COLOR: '1' }), false);
    assert.equal(useColour({ isTTY: true }, { TERM: 'dumb' }), false);
    assert.equal(useColour({ isTTY: false }, { FORCE_COLOR: '1' }), true);
  });

  it('tasks --since takes a duration back from now or an ISO time; --state names the states', () => {
    const now = Date.parse('2026-11-30T12:00:00.000Z');
    assert.equal(parseSince('2h', now), Date.parse('2026-11-30T10:00:00.000Z'));
    assert.equal(parseSince('2026-11-29T08:00:00Z', now), Date.parse('2026-11-29T08:00:00.000Z'));
    assert.throws(() => parseSince('yesterday', now), OptionError);
    assert.deepEqual(parseTaskStates('halted,FAILED'), ['halted', 'failed']);
    assert.throws(() => parseTaskStates('done'), /"done" is not a task state: one of recording, routing/);
  });
});
