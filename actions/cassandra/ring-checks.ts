// What both Cassandra actions check before they touch a node, and what the restart waits for after: the
// ring as this node sees it and as one peer sees it (a node can think itself fine while its peers see it
// down), one schema version, and no repair or streaming on this node.
import { TaskermanError } from '../../core/errors.js';
import type { Nodetool } from './nodetool.js';
import { parseCompactionStats, parseDescribeCluster, parseInfo, parseNetstats, parseStatus, type RingMember } from './nodetool-output.js';

export interface RingView {
  self: RingMember;
  members: RingMember[];
  /** The peer asked, when peer_check is on. */
  peer: RingMember | undefined;
}

function refuse(message: string, hint?: string): TaskermanError {
  return new TaskermanError('CHECK_FAILED', message, hint ? { hint } : {});
}

const notUN = (ms: RingMember[], except?: string) => ms.filter((m) => m.status !== 'UN' && m.hostId !== except);
const list = (ms: RingMember[]) => ms.map((m) => `${m.address} ${m.status}`).join(', ');

/** This node's row in `nodetool status`, found by its host id (from `nodetool info`). */
export async function findSelf(nt: Nodetool): Promise<{ self: RingMember; members: RingMember[] }> {
  const info = parseInfo(await nt.run(['info']));
  const members = parseStatus(await nt.run(['status']));
  const self = members.find((m) => m.hostId === info.hostId);
  if (!self) throw refuse(`this node (host id ${info.hostId}) is not in its own nodetool status`);
  return { self, members };
}

/**
 * Every node UN as seen from here and from one UN peer; one schema version. `selfMayBeDown`: a resumed
 * restart of this node (it drained or restarted in an attempt that was interrupted) tolerates this node
 * itself not being UN, and nothing else.
 */
export async function checkRing(nt: Nodetool, o: { peerCheck: boolean; selfMayBeDown?: boolean }): Promise<RingView> {
  const { self, members } = await findSelf(nt);
  const except = o.selfMayBeDown ? self.hostId : undefined;
  const bad = notUN(members, except);
  if (bad.length) throw refuse(`not every node is UN as seen from this node: ${list(bad)}`, 'wait until the ring is whole (nodetool status) before restarting another node');
  let peer: RingMember | undefined;
  if (o.peerCheck) {
    peer = members.find((m) => m.hostId !== self.hostId && m.status === 'UN' && m.dc === self.dc) ?? members.find((m) => m.hostId !== self.hostId && m.status === 'UN');
    if (peer) {
      const theirs = parseStatus(await nt.run(['status'], { host: peer.address }));
      const badThere = notUN(theirs, except);
      if (badThere.length) throw refuse(`not every node is UN as seen from ${peer.address}: ${list(badThere)}`, 'the views differ (gossip trouble?): look at nodetool status on both nodes');
    }
  }
  const dc = parseDescribeCluster(await nt.run(['describecluster']));
  if (dc.schemaVersions.size > 1) {
    throw refuse(`schema disagreement: ${[...dc.schemaVersions].map(([v, ips]) => `${v.slice(0, 8)} on ${ips.join(' ')}`).join('; ')}`, 'let the schema settle (nodetool describecluster) first');
  }
  if (dc.unreachable.length && !(o.selfMayBeDown && dc.unreachable.every((ip) => ip === self.address))) {
    throw refuse(`unreachable nodes in describecluster: ${dc.unreachable.join(', ')}`);
  }
  return { self, members, peer };
}

/** Repairs and streams of one node: Validation/Anticompaction compactions and stream sessions. */
export async function activity(nt: Nodetool, host?: string): Promise<{ mode: string; repairs: string[]; streams: string[]; pending: number }> {
  const net = parseNetstats(await nt.run(['netstats'], host ? { host } : {}));
  const cs = parseCompactionStats(await nt.run(['compactionstats'], host ? { host } : {}));
  const repairs = cs.running.filter((c) => /validation|anticompaction/i.test(c.type)).map((c) => `${c.type} of ${c.keyspace}.${c.table}`);
  repairs.push(...net.streams.filter((s) => /^repair/i.test(s)));
  return { mode: net.mode, repairs, streams: net.streams, pending: cs.pending };
}

/** No repair and no streaming on this node, and it is serving normally. */
export async function checkQuiet(nt: Nodetool): Promise<void> {
  const a = await activity(nt);
  if (a.mode !== 'NORMAL') throw refuse(`this node's mode is ${a.mode}, not NORMAL`);
  if (a.repairs.length) throw refuse(`a repair is running on this node: ${a.repairs.join(', ')}`, 'restarting now would abort it; wait for it to end');
  if (a.streams.length) throw refuse(`this node is streaming: ${a.streams.join(', ')}`, 'restarting now would abort the stream sessions');
}
