#!/usr/bin/env node
/* global process, setInterval, setTimeout */
// A fake `nodetool` for tests: it prints what Apache Cassandra 4.x's nodetool prints for `status`, `info`,
// `describecluster`, `compactionstats`, `netstats`, `statusbinary`, `statusgossip`, `drain`, `repair` and
// `stop`, for a scripted cluster kept in a JSON file that several fake nodes share (FAKE_NODETOOL_STATE).
// The formats follow nodetool's sources (tools/nodetool/Status.java, Info.java, DescribeCluster.java,
// CompactionStats.java, NetStats.java) and the Apache and DataStax docs' examples; the exit codes too:
// 0 on success, 1 when the JMX connection fails, 2 when a repair fails.
//
// Connection options: -h/--host selects which node answers (by address or name; default FAKE_NODETOOL_SELF),
// -p/--port, -u/--username, -pw/--password, -pwf/--password-file are accepted and ignored. Every call is
// appended to "<state>.log" as one JSON line, so a test can see what the action ran, and in which order.
import { appendFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

const statePath = process.env.FAKE_NODETOOL_STATE;
if (!statePath) {
  process.stderr.write('fake nodetool: FAKE_NODETOOL_STATE is not set\n');
  process.exit(1);
}
const load = () => JSON.parse(readFileSync(statePath, 'utf8'));
const save = (s) => {
  const tmp = `${statePath}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(s, null, 2));
  renameSync(tmp, statePath);
};
/** Changes one node in the state file (re-read first: another process may have written meanwhile). */
const update = (name, fn) => {
  const s = load();
  const n = s.nodes.find((x) => x.name === name);
  if (n) fn(n, s);
  save(s);
};

const argv = process.argv.slice(2);
let host;
const rest = [];
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '-h' || a === '--host') host = argv[++i];
  else if (['-p', '--port', '-u', '--username', '-pw', '--password', '-pwf', '--password-file'].includes(a)) i++;
  else rest.push(a);
}
const [command, ...args] = rest;
appendFileSync(`${statePath}.log`, JSON.stringify({ host: host ?? null, self: process.env.FAKE_NODETOOL_SELF ?? null, command, args, at: Date.now() }) + '\n');

let state = load();
const self = host ?? process.env.FAKE_NODETOOL_SELF;
const me = state.nodes.find((n) => n.address === self || n.name === self);
if (!me || !me.jmx) {
  const where = me ? me.address : self;
  process.stderr.write(`nodetool: Failed to connect to '${where}:7199' - ConnectException: 'Connection refused (Connection refused)'.\n`);
  process.exit(1);
}
const out = (s) => process.stdout.write(s);
const pad = (s, w) => String(s).padEnd(w);

/** How `viewer` sees `n`: the scripted override, else what gossip would say. */
function seen(viewer, n) {
  const o = state.views?.[viewer.name]?.[n.name];
  if (o) return o;
  const up = n.name === viewer.name ? true : n.up;
  return `${up ? 'U' : 'D'}${n.state ?? 'N'}`;
}

function status() {
  const dcs = [...new Set(state.nodes.map((n) => n.dc))].sort();
  for (const dc of dcs) {
    const rows = state.nodes.filter((n) => n.dc === dc).map((n) => [seen(me, n), n.address, n.load ?? '1.2 GiB', String(n.tokens ?? 16), n.owns ?? '50.0%', n.hostId, n.rack]);
    const head = ['--', 'Address', 'Load', 'Tokens', 'Owns (effective)', 'Host ID', 'Rack'];
    const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const title = `Datacenter: ${dc}`;
    out(`${title}\n${'='.repeat(title.length)}\nStatus=Up/Down\n|/ State=Normal/Leaving/Joining/Moving\n`);
    out(head.map((h, i) => (i === head.length - 1 ? h : pad(h, w[i]))).join('  ') + '\n');
    for (const r of rows) out(r.map((c, i) => (i === r.length - 1 ? c : pad(c, w[i]))).join('  ') + '\n');
    out('\n');
  }
}

function info() {
  const running = (b) => (b ? 'true' : 'false');
  out(
    [
      `ID                     : ${me.hostId}`,
      `Gossip active          : ${running(me.gossip)}`,
      `Native Transport active: ${running(me.binary)}`,
      `Load                   : ${me.load ?? '1.2 GiB'}`,
      `Generation No          : ${me.generation ?? 1700000000}`,
      `Uptime (seconds)       : ${me.uptime ?? 86400}`,
      'Heap Memory (MB)       : 2048.00 / 8192.00',
      'Off Heap Memory (MB)   : 12.34',
      `Data Center            : ${me.dc}`,
      `Rack                   : ${me.rack}`,
      'Exceptions             : 0',
      'Key Cache              : entries 25, size 2.12 KiB, capacity 100 MiB, 190 hits, 234 requests, 0.812 recent hit rate, 14400 save period in seconds',
      'Row Cache              : entries 0, size 0 bytes, capacity 0 bytes, 0 hits, 0 requests, NaN recent hit rate, 0 save period in seconds',
      'Counter Cache          : entries 0, size 0 bytes, capacity 50 MiB, 0 hits, 0 requests, NaN recent hit rate, 7200 save period in seconds',
      'Chunk Cache            : entries 20, size 1.25 MiB, capacity 480 MiB, 138 misses, 898 requests, 0.846 recent hit rate, NaN microseconds miss latency',
      'Percent Repaired       : 87.5%',
      `Token                  : (invoke with -T/--tokens to see all ${me.tokens ?? 16} tokens)`,
    ].join('\n') + '\n',
  );
}

function describecluster() {
  const versions = new Map();
  const unreachable = [];
  for (const n of state.nodes) {
    if (!seen(me, n).startsWith('U')) unreachable.push(n.address);
    else versions.set(n.schema, [...(versions.get(n.schema) ?? []), n.address]);
  }
  out(`Cluster Information:\n\tName: ${state.clusterName}\n\tSnitch: org.apache.cassandra.locator.GossipingPropertyFileSnitch\n\tDynamicEndPointSnitch: enabled\n\tPartitioner: org.apache.cassandra.dht.Murmur3Partitioner\n\tSchema versions:\n`);
  for (const [v, ips] of versions) out(`\t\t${v}: [${ips.join(', ')}]\n\n`);
  if (unreachable.length) out(`\t\tUNREACHABLE: [${unreachable.join(', ')}]\n\n`);
  const count = (st) => state.nodes.filter((n) => seen(me, n) === st).length;
  out(`Stats for all nodes:\n\tLive: ${state.nodes.length - unreachable.length}\n\tJoining: ${count('UJ')}\n\tMoving: ${count('UM')}\n\tLeaving: ${count('UL')}\n\tUnreachable: ${unreachable.length}\n\n`);
  out('Data Centers: \n');
  for (const dc of [...new Set(state.nodes.map((n) => n.dc))].sort()) {
    const inDc = state.nodes.filter((n) => n.dc === dc);
    out(`\t${dc} #Nodes: ${inDc.length} #Down: ${inDc.filter((n) => !seen(me, n).startsWith('U')).length}\n`);
  }
  out(`\nDatabase versions:\n\t4.1.5: [${state.nodes.map((n) => `${n.address}:7000`).join(', ')}]\n\nKeyspaces:\n\tsystem_auth -> Replication class: NetworkTopologyStrategy {dc1=3}\n`);
}

function compactionstats() {
  const cs = me.compactions ?? [];
  const pending = me.pendingCompactions ?? 0;
  out(`pending tasks: ${pending}\n`);
  if (pending > 0) out(`- geo.counters: ${pending}\n`);
  out('\n');
  if (cs.length === 0) return;
  const head = ['id', 'compaction type', 'keyspace', 'table', 'completed', 'total', 'unit', 'progress'];
  const rows = cs.map((c) => [c.id, c.type, c.keyspace, c.table, String(c.completed), String(c.total), 'bytes', `${((100 * c.completed) / c.total).toFixed(2)}%`]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  for (const r of [head, ...rows]) out(r.map((c, i) => c.padStart(w[i])).join(' ') + '\n');
  out('Active compaction remaining time :   0h00m10s\n');
}

function netstats() {
  out(`Mode: ${me.mode}\n`);
  const streams = me.streams ?? [];
  if (streams.length === 0) out('Not sending any streams.\n');
  for (const s of streams) {
    out(`${s.description} ${s.planId}\n    /${s.peer}\n        Receiving 3 files, 104857600 bytes total. Already received 1 files, 34952533 bytes total\n`);
  }
  out('Read Repair Statistics:\nAttempted: 0\nMismatch (Blocking): 0\nMismatch (Background): 0\n');
  out('Pool Name                    Active   Pending      Completed   Dropped\nLarge messages                  n/a         0              0         0\nSmall messages                  n/a         0          12345         0\nGossip messages                 n/a         0           6789         0\n');
}

const sleepForever = () => setInterval(() => undefined, 1 << 30);
const ts = () => new Date().toISOString().replace('T', ' ').replace('Z', '').replace('.', ',');

switch (command) {
  case 'status':
    status();
    break;
  case 'info':
    info();
    break;
  case 'describecluster':
    describecluster();
    break;
  case 'compactionstats':
    compactionstats();
    break;
  case 'netstats':
    netstats();
    break;
  case 'statusbinary':
    out(me.binary ? 'running\n' : 'not running\n');
    break;
  case 'statusgossip':
    out(me.gossip ? 'running\n' : 'not running\n');
    break;
  case 'drain': {
    if (me.drain === 'hang') {
      update(me.name, (n) => void (n.mode = 'DRAINING'));
      sleepForever();
      break;
    }
    if (me.drain === 'fail') {
      process.stderr.write('error: null\n-- StackTrace --\njava.lang.NullPointerException\n');
      process.exit(2);
    }
    // Drain stops client transports, then gossip (peers then see the node down), flushes, and leaves the
    // node DRAINED: it takes no writes until it is restarted.
    update(me.name, (n) => Object.assign(n, { mode: 'DRAINED', binary: false, gossip: false, up: false }));
    break;
  }
  case 'repair': {
    const id = '9a1b6c2e-4f11-11ef-8d5a-0242ac120002';
    const ks = args.filter((a) => !a.startsWith('-'))[0] ?? 'geo';
    out(`[${ts()}] Starting repair command #1 (${id}), repairing keyspace ${ks} with repair options (parallelism: parallel, primary range: ${args.includes('-pr') || args.includes('--partitioner-range')}, incremental: ${!args.includes('-full') && !args.includes('--full')}, job threads: 1, ColumnFamilies: [], dataCenters: [], hosts: [], previewKind: NONE, # of ranges: 16, pull repair: false, force repair: false, optimise streams: false, ignore unreplicated keyspaces: false, repairPaxos: true, paxosOnly: false)\n`);
    update(me.name, (n) => {
      n.repairRunning = true;
      n.compactions = [...(n.compactions ?? []).filter((c) => c.type !== 'Validation'), { id: 'c0ffee00-0000-0000-0000-000000000001', type: 'Validation', keyspace: ks, table: 'counters', completed: 1024, total: 4096 }];
    });
    const behaviour = me.repair ?? 'ok';
    if (behaviour === 'hang') {
      sleepForever();
      break;
    }
    const finish = () => {
      state = load();
      const cur = state.nodes.find((n) => n.name === me.name);
      if (!cur?.repairRunning) {
        out(`[${ts()}] Repair command #1 failed with error Repair job has been aborted\n`);
        process.stderr.write('error: Repair job has failed with the error message: Repair job has been aborted. Check the logs on the repair participants for further details\n');
        process.exit(2);
      }
      update(me.name, (n) => {
        n.repairRunning = false;
        n.compactions = (n.compactions ?? []).filter((c) => c.type !== 'Validation');
      });
      if (behaviour === 'fail') {
        out(`[${ts()}] Repair session 9b2c7d3f-4f11-11ef-8d5a-0242ac120002 for range [(-9223372036854775808,-3074457345618258603]] failed with error Endpoint /10.0.0.2:7000 died\n`);
        out(`[${ts()}] Repair command #1 failed with error Repair session 9b2c7d3f-4f11-11ef-8d5a-0242ac120002 for range [(-9223372036854775808,-3074457345618258603]] failed with error Endpoint /10.0.0.2:7000 died\n`);
        process.stderr.write('error: Repair job has failed with the error message: Repair session 9b2c7d3f-4f11-11ef-8d5a-0242ac120002 for range [(-9223372036854775808,-3074457345618258603]] failed with error Endpoint /10.0.0.2:7000 died. Check the logs on the repair participants for further details\n');
        process.exit(2);
      }
      out(`[${ts()}] Repair session 9b2c7d3f-4f11-11ef-8d5a-0242ac120002 for range [(-9223372036854775808,-3074457345618258603]] finished (progress: 100%)\n`);
      out(`[${ts()}] Repair completed successfully\n[${ts()}] Repair command #1 finished in 0 seconds\n`);
    };
    setTimeout(finish, me.repairMs ?? 50);
    break;
  }
  case 'stop': {
    // `nodetool stop -- VALIDATION` stops the validation compactions of repairs, which fails their sessions.
    const type = args.filter((a) => a !== '--')[0];
    if (type === 'VALIDATION') {
      update(me.name, (n) => {
        n.repairRunning = false;
        n.compactions = (n.compactions ?? []).filter((c) => c.type !== 'Validation');
      });
    }
    break;
  }
  default:
    process.stderr.write(`nodetool: Found unexpected parameters: [${command}]\nSee 'nodetool help' or 'nodetool help <command>'.\n`);
    process.exit(1);
}
