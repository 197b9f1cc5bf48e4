// The KafkaAdmin port over Kafka's own command-line tools, which every broker host has: no JVM client to
// embed, the same code paths operators use by hand, credentials from a --command-config file.
//   describeCluster       kafka-broker-api-versions.sh (live brokers) + kafka-metadata-quorum.sh describe --status
//                         (LeaderId: the active controller, KRaft), or in ZooKeeper mode
//                         zookeeper-shell.sh <zk> get /controller ({"brokerid": N})
//   listTopics            kafka-topics.sh --list
//   describeTopics        kafka-topics.sh --describe
//   describeTopicConfigs  kafka-configs.sh --entity-type topics --describe --all (effective values)
import { TaskermanError } from '../../core/errors.js';
import { lastLines, runCommand } from '../kit/command.js';
import type { ClusterDescription, KafkaAdmin, KafkaBroker, TopicDescription } from './kafka-admin.js';
import type { KafkaRestartConfig } from './kafka-config.js';

export class KafkaCliAdmin implements KafkaAdmin {
  constructor(private readonly cfg: KafkaRestartConfig) {}

  private async run(tool: string, args: string[], signal: AbortSignal): Promise<string> {
    const argv = [`${this.cfg.bin_dir.replace(/\/$/, '')}/${tool}`, '--bootstrap-server', this.cfg.bootstrap_servers, ...(this.cfg.command_config ? ['--command-config', this.cfg.command_config] : []), ...args];
    const r = await runCommand(argv, { signal, timeoutMs: this.cfg.command_timeout, env: this.cfg.env });
    if (r.code !== 0) throw new TaskermanError('CHECK_FAILED', `${tool} ${args.join(' ')}: ${lastLines(r.stderr || r.stdout) || `exit code ${r.code ?? r.signal}`}`);
    return r.stdout;
  }

  async describeCluster(signal: AbortSignal): Promise<ClusterDescription> {
    const brokers = parseBrokerApiVersions(await this.run('kafka-broker-api-versions.sh', [], signal));
    if (this.cfg.zookeeper_connect) {
      const argv = [`${this.cfg.bin_dir.replace(/\/$/, '')}/zookeeper-shell.sh`, this.cfg.zookeeper_connect, 'get', '/controller'];
      const r = await runCommand(argv, { signal, timeoutMs: this.cfg.command_timeout, env: this.cfg.env });
      // No /controller znode (an election under way) prints "Node does not exist" and exits non-zero: no controller.
      return { clusterId: '', controller: r.code === 0 ? parseZkController(r.stdout) : null, brokers };
    }
    const quorum = parseQuorumStatus(await this.run('kafka-metadata-quorum.sh', ['describe', '--status'], signal));
    return { clusterId: quorum.clusterId, controller: quorum.leaderId, brokers };
  }

  async listTopics(opts: { listInternal: boolean }, signal: AbortSignal): Promise<string[]> {
    const out = await this.run('kafka-topics.sh', ['--list', ...(opts.listInternal ? [] : ['--exclude-internal'])], signal);
    return out.split('\n').map((l) => l.trim()).filter(Boolean);
  }

  async describeTopics(topics: string[], signal: AbortSignal): Promise<TopicDescription[]> {
    const all = parseTopicsDescribe(await this.run('kafka-topics.sh', ['--describe'], signal));
    const want = new Set(topics);
    return all.filter((t) => want.has(t.name));
  }

  async describeTopicConfigs(topics: string[], configNames: string[], signal: AbortSignal): Promise<Map<string, Record<string, string>>> {
    const all = parseConfigsDescribe(await this.run('kafka-configs.sh', ['--entity-type', 'topics', '--describe', '--all'], signal));
    const out = new Map<string, Record<string, string>>();
    for (const t of topics) {
      const c = all.get(t) ?? {};
      out.set(t, Object.fromEntries(configNames.filter((n) => n in c).map((n) => [n, c[n] as string])));
    }
    return out;
  }
}

/** `kafka-broker-api-versions.sh`: one "host:port (id: N rack: R) -> (" line per live broker. */
export function parseBrokerApiVersions(text: string): KafkaBroker[] {
  const out: KafkaBroker[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\S+):(\d+) \(id: (\d+) rack: [^)]*\) -> \(/.exec(line);
    if (m) out.push({ host: m[1] as string, port: Number(m[2]), id: Number(m[3]) });
  }
  if (out.length === 0) throw new TaskermanError('CHECK_FAILED', `cannot read kafka-broker-api-versions.sh output: ${lastLines(text, 2) || '(empty)'}`);
  return out;
}

/** `kafka-metadata-quorum.sh describe --status`: "ClusterId: x", "LeaderId: N" (-1 when there is none). */
export function parseQuorumStatus(text: string): { clusterId: string; leaderId: number | null } {
  const c = /^ClusterId:\s*(\S+)/m.exec(text);
  const l = /^LeaderId:\s*(-?\d+)/m.exec(text);
  if (!c || !l) throw new TaskermanError('CHECK_FAILED', `cannot read kafka-metadata-quorum.sh output: ${lastLines(text, 2) || '(empty)'}`);
  const id = Number(l[1]);
  return { clusterId: c[1] as string, leaderId: id < 0 ? null : id };
}

/** `zookeeper-shell.sh <zk> get /controller`: connection chatter, then {"version":1,"brokerid":N,...}. */
export function parseZkController(text: string): number | null {
  const m = /"brokerid"\s*:\s*(-?\d+)/.exec(text);
  return m && Number(m[1]) >= 0 ? Number(m[1]) : null;
}

/** `kafka-topics.sh --describe`: a "Topic: t ... PartitionCount: n" line, then one tab-indented line per partition. */
export function parseTopicsDescribe(text: string): TopicDescription[] {
  const topics = new Map<string, TopicDescription>();
  const ids = (s: string | undefined) => (s ?? '').split(',').map((x) => x.trim()).filter((x) => x !== '').map(Number);
  for (const line of text.split('\n')) {
    const fields = new Map<string, string>();
    for (const m of line.matchAll(/(\w+):\s*(\S*)/g)) if (!fields.has(m[1] as string)) fields.set(m[1] as string, m[2] as string);
    const name = fields.get('Topic');
    if (!name) continue;
    const t = topics.get(name) ?? { name, internal: name.startsWith('__'), partitions: [] };
    topics.set(name, t);
    const p = fields.get('Partition');
    if (p === undefined) continue;
    const leader = fields.get('Leader');
    t.partitions.push({
      partition: Number(p),
      leader: leader === undefined || leader === 'none' || Number(leader) < 0 ? null : Number(leader),
      replicas: ids(fields.get('Replicas')),
      isr: ids(fields.get('Isr')),
    });
  }
  return [...topics.values()];
}

/** `kafka-configs.sh --describe --all`: "All configs for topic t are:" then "  key=value sensitive=... synonyms={...}". */
export function parseConfigsDescribe(text: string): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  let cur: Record<string, string> | undefined;
  for (const line of text.split('\n')) {
    const h = /^(?:All|Dynamic) configs for topic (\S+) are:/.exec(line);
    if (h) {
      cur = {};
      out.set(h[1] as string, cur);
      continue;
    }
    const kv = /^\s+([\w.]+)=(\S*)/.exec(line);
    if (kv && cur) cur[kv[1] as string] = kv[2] as string;
  }
  return out;
}
