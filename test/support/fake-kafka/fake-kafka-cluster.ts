// A scripted Kafka cluster behind the KafkaAdmin port (actions/kafka/kafka-admin.ts), with what the brokers
// do when one stops and starts: a stopped broker leaves every ISR at once (as with a controlled shutdown),
// leadership moves to another in-sync replica, the controller role moves to a live broker; a broker that
// starts again rejoins the ISR of each of its partitions after `catchUpMs` (it has to fetch what it missed).
// `lagging` keeps a broker out of the ISRs after it is back (a slow follower); `controllerDown` makes
// describeCluster report no controller.
import type { ClusterDescription, KafkaAdmin, TopicDescription } from '../../../actions/kafka/kafka-admin.js';

export interface FakePartition {
  topic: string;
  partition: number;
  leader: number | null;
  replicas: number[];
  isr: number[];
}

export class FakeKafkaCluster implements KafkaAdmin {
  readonly clusterId = 'MkU3OEVBNTcwNTJENDM2Qk';
  brokers: Array<{ id: number; up: boolean }>;
  controller: number | null;
  partitions: FakePartition[] = [];
  /** topic -> min.insync.replicas override; else `brokerMinIsr`. */
  topicMinIsr = new Map<string, number>();
  brokerMinIsr = 1;
  catchUpMs = 30;
  lagging = new Set<number>();
  readonly calls: string[] = [];
  private timers = new Set<NodeJS.Timeout>();

  constructor(brokerIds: number[], controller?: number) {
    this.brokers = brokerIds.map((id) => ({ id, up: true }));
    this.controller = controller ?? brokerIds[0] ?? null;
  }

  /** Adds a topic whose partitions' replicas are spread round-robin over the brokers. */
  addTopic(topic: string, partitions: number, rf: number, minIsr?: number): void {
    const ids = this.brokers.map((b) => b.id);
    for (let p = 0; p < partitions; p++) {
      const replicas = Array.from({ length: rf }, (_, i) => ids[(p + i) % ids.length] as number);
      this.partitions.push({ topic, partition: p, leader: replicas[0] ?? null, replicas, isr: [...replicas] });
    }
    if (minIsr !== undefined) this.topicMinIsr.set(topic, minIsr);
  }

  partition(topic: string, p: number): FakePartition {
    const x = this.partitions.find((q) => q.topic === topic && q.partition === p);
    if (!x) throw new Error(`no partition ${topic}-${p}`);
    return x;
  }

  stopBroker(id: number): void {
    const b = this.brokers.find((x) => x.id === id);
    if (!b) throw new Error(`no broker ${id}`);
    b.up = false;
    for (const p of this.partitions) {
      p.isr = p.isr.filter((r) => r !== id);
      if (p.leader === id) p.leader = p.isr[0] ?? null;
    }
    if (this.controller === id) this.controller = this.brokers.find((x) => x.up)?.id ?? null;
  }

  startBroker(id: number): void {
    const b = this.brokers.find((x) => x.id === id);
    if (!b) throw new Error(`no broker ${id}`);
    b.up = true;
    if (this.controller === null) this.controller = id;
    this.after(this.catchUpMs, () => {
      if (!b.up || this.lagging.has(id)) return;
      for (const p of this.partitions) {
        if (p.replicas.includes(id) && !p.isr.includes(id)) p.isr = p.replicas.filter((r) => r === id || p.isr.includes(r));
        if (p.leader === null && p.isr.length) p.leader = p.isr[0] ?? null;
      }
    });
  }

  /** What a service manager's restart does: stop now, start after `bootMs`. */
  restartBroker(id: number, bootMs = 20): void {
    this.stopBroker(id);
    this.after(bootMs, () => this.startBroker(id));
  }

  async describeCluster(): Promise<ClusterDescription> {
    this.calls.push('describeCluster');
    return { clusterId: this.clusterId, controller: this.controller, brokers: this.brokers.filter((b) => b.up).map((b) => ({ id: b.id, host: `kafka-${b.id}`, port: 9092 })) };
  }

  async listTopics(opts: { listInternal: boolean }): Promise<string[]> {
    this.calls.push('listTopics');
    return [...new Set(this.partitions.map((p) => p.topic))].filter((t) => opts.listInternal || !t.startsWith('__'));
  }

  async describeTopics(topics: string[]): Promise<TopicDescription[]> {
    this.calls.push(`describeTopics:${topics.length}`);
    return topics.map((name) => {
      const parts = this.partitions.filter((p) => p.topic === name);
      if (parts.length === 0) throw new Error(`UnknownTopicOrPartitionException: This server does not host this topic-partition. (${name})`);
      return { name, internal: name.startsWith('__'), partitions: parts.map((p) => ({ partition: p.partition, leader: p.leader, replicas: [...p.replicas], isr: [...p.isr] })) };
    });
  }

  async describeTopicConfigs(topics: string[], configNames: string[]): Promise<Map<string, Record<string, string>>> {
    this.calls.push('describeConfigs');
    const out = new Map<string, Record<string, string>>();
    for (const t of topics) {
      const all: Record<string, string> = { 'min.insync.replicas': String(this.topicMinIsr.get(t) ?? this.brokerMinIsr) };
      out.set(t, Object.fromEntries(configNames.filter((c) => c in all).map((c) => [c, all[c] as string])));
    }
    return out;
  }

  close(): void {
    for (const t of this.timers) clearTimeout(t);
  }

  private after(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }
}
