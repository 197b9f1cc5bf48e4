// The Kafka admin port: the few calls of Kafka's AdminClient that `kafka:restart` needs, with the same
// meaning (describeCluster with the active controller, listTopics including internal ones, describeTopics with
// leader, replicas and ISR per partition, describeConfigs for topics). Brokers are named by their broker id.
// `kafka-cli-admin.ts` implements it with Kafka's own command-line tools on the broker host; tests put a fake
// behind it (test/support/fake-kafka/).

export interface KafkaBroker {
  id: number;
  host: string;
  port: number;
}

export interface ClusterDescription {
  clusterId: string;
  /** The active controller's id; null when the cluster has none right now (an election). */
  controller: number | null;
  /** The brokers that are alive, as the cluster metadata says. */
  brokers: KafkaBroker[];
}

export interface PartitionDescription {
  partition: number;
  /** Leader broker id; null when the partition has no leader (offline). */
  leader: number | null;
  replicas: number[];
  isr: number[];
}

export interface TopicDescription {
  name: string;
  internal: boolean;
  partitions: PartitionDescription[];
}

export interface KafkaAdmin {
  describeCluster(signal: AbortSignal): Promise<ClusterDescription>;
  listTopics(opts: { listInternal: boolean }, signal: AbortSignal): Promise<string[]>;
  describeTopics(topics: string[], signal: AbortSignal): Promise<TopicDescription[]>;
  /** Effective topic configs (topic override, else the broker's, else Kafka's default), by topic name. */
  describeTopicConfigs(topics: string[], configNames: string[], signal: AbortSignal): Promise<Map<string, Record<string, string>>>;
}
