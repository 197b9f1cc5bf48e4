// One chaos router process: a real Router on a real ZooKeeper session and SQS client. Its queue client is
// wrapped to write a `sent` probe line after each work item SQS accepted (so the driver counts fan-outs
// independently of the records) and, with CHAOS_SEND_DELAY_MS, to pause up to that long before each send,
// which stretches a fan-out so that the driver can kill the router in the middle of one.
import { builtinRegistry } from '../../actions/builtin.js';
import { ExplicitDiscovery, MembersDiscovery, StaticDiscovery } from '../../core/discovery/discovery.js';
import { Membership } from '../../core/coordination/membership.js';
import { queueNames } from '../../core/queue/queue-names.js';
import { parseWorkMessage } from '../../core/task/task.js';
import type { OutgoingMessage, WorkQueue } from '../../core/queue/work-queue.js';
import { Router } from '../../router/router.js';
import { chaosSleepAction } from './chaos-action.js';
import { childBackends, childLogger, runChild } from './child-support.js';
import { appendProbe } from './probe-file.js';
import { CHILD_VISIBILITY_SEC, ENV, requiredEnv } from './proc-env.js';

const log = childLogger('router');
const probeFile = requiredEnv(ENV.probe);
const sendDelayMs = Number(process.env[ENV.sendDelayMs] ?? '0');
const backends = await childBackends(log);

function recordSends(msgs: OutgoingMessage[]): void {
  for (const m of msgs) {
    let item;
    try {
      item = parseWorkMessage(m.body);
    } catch {
      continue; // not a work item (dead letters)
    }
    appendProbe(probeFile, { kind: 'sent', task: item.taskId, node: item.node, t: Date.now(), pid: process.pid });
  }
}

const pause = () => (sendDelayMs > 0 ? new Promise<void>((r) => setTimeout(r, Math.floor(Math.random() * sendDelayMs))) : Promise.resolve());

const inner = backends.queue;
const queue: WorkQueue = {
  ensureQueue: (spec) => inner.ensureQueue(spec),
  exists: (name) => inner.exists(name),
  send: async (q, msg) => {
    await pause();
    await inner.send(q, msg);
    recordSends([msg]);
  },
  sendBatch: async (q, msgs) => {
    await pause();
    await inner.sendBatch(q, msgs);
    recordSends(msgs);
  },
  receive: (q, opts) => inner.receive(q, opts),
  delete: (q, handle) => inner.delete(q, handle),
  changeVisibility: (q, handle, sec) => inner.changeVisibility(q, handle, sec),
  stats: (q) => inner.stats(q),
  list: (prefix) => inner.list(prefix),
  purge: (q) => inner.purge(q),
  close: () => inner.close(),
};

const store = backends.store;
const router = new Router({
  queue,
  store,
  names: queueNames(requiredEnv(ENV.queuePrefix)),
  registry: builtinRegistry({ extra: [chaosSleepAction({ probeFile, failNodes: new Set() })] }),
  discovery: {
    explicit: new ExplicitDiscovery(),
    static: new StaticDiscovery(process.cwd()),
    members: new MembersDiscovery(new Membership(store.coordinator, store.paths)),
  },
  logger: log,
  waitSec: 1,
  visibilitySec: CHILD_VISIBILITY_SEC,
  workVisibilitySec: CHILD_VISIBILITY_SEC,
  busyRetrySec: 1,
});
router.on('problem', () => undefined);
await runChild(
  log,
  () => router.start(),
  async () => {
    await router.stop();
    await backends.close();
  },
);
