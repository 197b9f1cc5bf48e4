import assert from 'node:assert/strict';
import { OptionError } from '../../core/errors.js';
import { queueNames, MAX_QUEUE_NAME } from '../../core/queue/queue-names.js';

const VALID = /^[A-Za-z0-9_-]{1,80}$/;

describe('queue names', () => {
  const q = queueNames('taskerman');

  it('keeps plain names readable', () => {
    assert.equal(q.global, 'taskerman--global');
    assert.equal(q.globalDlq, 'taskerman--global-dlq');
    assert.equal(q.cluster('kafka_main'), 'taskerman--c--kafka_main');
    assert.equal(q.clusterDlq('kafka_main'), 'taskerman--c--kafka_main-dlq');
    assert.equal(q.node('kafka_main', 'broker1'), 'taskerman--n--kafka_main--broker1');
  });

  it('sanitizes with a hash, so names differing only in dropped characters stay distinct', () => {
    const a = q.cluster('cassandra:geo_counter');
    const b = q.cluster('cassandra_geo_counter');
    const c = q.cluster('cassandra.geo_counter');
    assert.match(a, VALID);
    assert.equal(new Set([a, b, c]).size, 3);
    assert.match(a, /^taskerman--c--cassandra_geo_counter-[0-9a-f]{10}$/);
  });

  it('never collides across clusters and nodes where plain joining would', () => {
    // ("a-b", "c") vs ("a", "b-c") would both join to a-b-c without the rule.
    const names = [q.node('a-b', 'c'), q.node('a', 'b-c'), q.node('a--b', 'c'), q.node('a', '-b--c'), q.cluster('a--n--b')];
    assert.equal(new Set(names).size, names.length);
    for (const n of names) assert.match(n, VALID);
  });

  it('stays within 80 characters, dead-letter suffix included, and stays distinct when truncated', () => {
    const long = 'elasticsearch:' + 'x'.repeat(150);
    const names = [q.node(long, 'node-' + 'y'.repeat(100)), q.node(long, 'node-' + 'y'.repeat(99) + 'z'), q.clusterDlq(long), q.clusterDlq(long + 'q')];
    for (const n of names) assert.ok(n.length <= MAX_QUEUE_NAME && VALID.test(n), n);
    assert.equal(new Set(names).size, names.length);
  });

  it('is deterministic', () => {
    assert.equal(queueNames('p').node('cassandra:geo', 'ip-10-0-0-1.ec2.internal'), queueNames('p').node('cassandra:geo', 'ip-10-0-0-1.ec2.internal'));
  });

  it('refuses a prefix that is not a plain word', () => {
    assert.throws(() => queueNames('my-prefix'), OptionError);
    assert.throws(() => queueNames(''), OptionError);
  });
});
