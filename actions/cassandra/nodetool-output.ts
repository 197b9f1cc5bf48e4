// Parsers for what `nodetool` prints (Cassandra 3.11 to 5.0): `status`, `info`, `describecluster`,
// `compactionstats`, `netstats`, `statusbinary` / `statusgossip`. Each parser reads only what the actions need
// and refuses output it cannot read (a changed format must stop a check, never pass it).
import { TaskermanError } from '../../core/errors.js';

export interface RingMember {
  /** Two letters: U/D (up/down) then N/L/J/M (normal, leaving, joining, moving). */
  status: string;
  address: string;
  hostId: string;
  dc: string;
  rack: string;
}

function unreadable(what: string, text: string): TaskermanError {
  const head = text.trim().split('\n').slice(0, 2).join(' | ');
  return new TaskermanError('CHECK_FAILED', `cannot read the output of nodetool ${what}: ${head || '(empty)'}`);
}

/** `nodetool status`: one member per row, under "Datacenter: <dc>" headers. */
export function parseStatus(text: string): RingMember[] {
  const out: RingMember[] = [];
  let dc: string | undefined;
  for (const line of text.split(/\r?\n/)) {
    const d = /^Datacenter:\s*(.+?)\s*$/.exec(line);
    if (d) {
      dc = d[1];
      continue;
    }
    const m = /^([UD][NLJM])\s+(\S+)\s+/.exec(line);
    if (!m || !dc) continue;
    // Load has a unit ("1.2 GiB", "?" when unknown); Host ID is the only UUID; Rack is the last column.
    const cols = line.trim().split(/\s+/);
    const hostId = cols.find((c) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(c));
    const rack = cols[cols.length - 1];
    if (!hostId || !rack || rack === hostId) throw unreadable('status', line);
    out.push({ status: m[1] as string, address: m[2] as string, hostId, dc, rack });
  }
  if (out.length === 0) throw unreadable('status', text);
  return out;
}

/** `nodetool info`: "Key   : value" lines. */
export function parseInfo(text: string): { hostId: string; gossip: boolean; nativeTransport: boolean; dc: string | undefined; rack: string | undefined } {
  const kv = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0) kv.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  const hostId = kv.get('ID');
  if (!hostId) throw unreadable('info', text);
  return { hostId, gossip: kv.get('Gossip active') === 'true', nativeTransport: kv.get('Native Transport active') === 'true', dc: kv.get('Data Center'), rack: kv.get('Rack') };
}

/** `nodetool describecluster`: the schema versions (UNREACHABLE apart) and who is unreachable. */
export function parseDescribeCluster(text: string): { schemaVersions: Map<string, string[]>; unreachable: string[] } {
  const lines = text.split(/\r?\n/);
  const start = lines.findIndex((l) => /^\s*Schema versions:\s*$/.test(l));
  if (start < 0) throw unreadable('describecluster', text);
  const schemaVersions = new Map<string, string[]>();
  const unreachable: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.trim() === '') continue;
    // "\t\t<uuid>: [ip, ip]", or "UNREACHABLE: [ip]" (4.x), or "UNREACHABLE: <uuid>: [ip]" (older docs).
    const m = /^\s+(UNREACHABLE|[0-9a-f-]{36}):\s*(?:[0-9a-f-]{36}:\s*)?\[(.*)\]\s*$/i.exec(line);
    if (!m) break;
    const ips = (m[2] as string).split(',').map((s) => s.trim()).filter(Boolean);
    if ((m[1] as string).toUpperCase() === 'UNREACHABLE') unreachable.push(...ips);
    else schemaVersions.set(m[1] as string, ips);
  }
  if (schemaVersions.size === 0) throw unreadable('describecluster', text);
  return { schemaVersions, unreachable };
}

/** `nodetool compactionstats`: pending tasks, and the running compactions by type (Validation = a repair). */
export function parseCompactionStats(text: string): { pending: number; running: Array<{ type: string; keyspace: string; table: string }> } {
  const p = /^pending tasks:\s*(\d+)/m.exec(text);
  if (!p) throw unreadable('compactionstats', text);
  const running: Array<{ type: string; keyspace: string; table: string }> = [];
  const lines = text.split(/\r?\n/);
  const header = lines.findIndex((l) => /compaction type/.test(l) && /keyspace/.test(l));
  if (header >= 0) {
    const h = lines[header] as string;
    const typeCol = h.indexOf('compaction type');
    const hasId = /^\s*id\s/.test(h);
    for (const line of lines.slice(header + 1)) {
      if (!line.trim() || /^Active compaction remaining time/.test(line)) break;
      const cols = line.trim().split(/\s+/);
      // The type may be two words ("Index build", "Tombstone Compaction"); the last six columns are keyspace,
      // table, completed, total, unit and progress.
      const rest = hasId ? cols.slice(1) : cols;
      if (rest.length < 7 || typeCol < 0) throw unreadable('compactionstats', line);
      const keyspace = rest[rest.length - 6] as string;
      const table = rest[rest.length - 5] as string;
      const type = rest.slice(0, rest.length - 6).join(' ');
      running.push({ type, keyspace, table });
    }
  }
  return { pending: Number(p[1]), running };
}

/** `nodetool netstats`: the node's mode and its stream sessions ("Repair <id>", "Bootstrap <id>", ...). */
export function parseNetstats(text: string): { mode: string; streams: string[] } {
  const m = /^Mode:\s*(\S+)/m.exec(text);
  if (!m) throw unreadable('netstats', text);
  const streams: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const s = /^(\S.*?)\s+([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\s*$/i.exec(line);
    if (s) streams.push(`${s[1]} ${s[2]}`);
  }
  return { mode: m[1] as string, streams };
}

/** `nodetool statusbinary` / `statusgossip`: "running" or "not running". */
export function parseRunning(what: string, text: string): boolean {
  const t = text.trim();
  if (t === 'running') return true;
  if (t === 'not running') return false;
  throw unreadable(what, text);
}
