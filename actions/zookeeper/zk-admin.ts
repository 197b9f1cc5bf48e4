// Reading a ZooKeeper ensemble through its four-letter words, as the admin guide documents them: `srvr` for a
// member's mode (leader, follower, observer, standalone) and whether it serves, `mntr` on the leader for
// `zk_synced_followers` and `zk_pending_syncs`. Since 3.5.3 only `srvr` is whitelisted by default: `mntr`
// needs `4lw.commands.whitelist=srvr,mntr` (or `*`), and a refused word is an error here, never an empty,
// "healthy" answer.
import { TaskermanError } from '../../core/errors.js';
import { numberField, parseKeyValues } from '../kit/parse.js';
import { tcpExchange } from '../kit/tcp.js';

export interface ZkAddress {
  host: string;
  port: number;
}

export function parseZkAddress(s: string): ZkAddress {
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(s.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || !m[1] || port < 1 || port > 65_535) throw new TaskermanError('INVALID_OPTION', `"${s}" is not host:port`, { retryable: false });
  return { host: m[1], port };
}

export const showAddress = (a: ZkAddress): string => `${a.host}:${a.port}`;

const NOT_SERVING = 'not currently serving requests';

export async function fourLetterWord(a: ZkAddress, word: 'srvr' | 'mntr' | 'ruok' | 'stat', o: { signal: AbortSignal; timeoutMs: number }): Promise<string> {
  const text = (await tcpExchange({ host: a.host, port: a.port, send: word, signal: o.signal, timeoutMs: o.timeoutMs })).toString('utf8');
  if (text.includes('is not executed because it is not in the whitelist')) {
    throw new TaskermanError('CHECK_FAILED', `${showAddress(a)} refuses "${word}": it is not in 4lw.commands.whitelist`, { retryable: false, hint: `add ${word} to 4lw.commands.whitelist in zoo.cfg (e.g. 4lw.commands.whitelist=srvr,mntr,ruok)` });
  }
  return text;
}

export interface SrvrInfo {
  /** leader, follower, observer, standalone; '' when not serving. */
  mode: string;
  serving: boolean;
  zxid: string;
}

export async function srvr(a: ZkAddress, o: { signal: AbortSignal; timeoutMs: number }): Promise<SrvrInfo> {
  const text = await fourLetterWord(a, 'srvr', o);
  if (text.includes(NOT_SERVING)) return { mode: '', serving: false, zxid: '' };
  const kv = parseKeyValues(text, ':');
  const mode = kv.get('Mode');
  if (!mode) throw new TaskermanError('CHECK_FAILED', `${showAddress(a)} answered srvr without a Mode line: ${text.slice(0, 120)}`);
  return { mode, serving: true, zxid: kv.get('Zxid') ?? '' };
}

export async function mntr(a: ZkAddress, o: { signal: AbortSignal; timeoutMs: number }): Promise<Map<string, string>> {
  const text = await fourLetterWord(a, 'mntr', o);
  if (text.includes(NOT_SERVING)) throw new TaskermanError('CHECK_FAILED', `${showAddress(a)} is not serving (mntr)`);
  return parseKeyValues(text, '\t');
}

export interface EnsembleHealth {
  ok: boolean;
  /** One phrase per problem: "127.0.0.1:2182 does not answer (ECONNREFUSED)". */
  problems: string[];
  leader: string | undefined;
  /** Each member's mode as seen, "down" or "not serving". */
  modes: Record<string, string>;
  syncedFollowers: number | undefined;
  pendingSyncs: number | undefined;
}

/**
 * The ensemble is healthy when every voting member serves, exactly one is the leader and the others are
 * followers, and the leader counts every other voter as a synced follower with no sync pending.
 */
export async function ensembleHealth(members: ZkAddress[], o: { signal: AbortSignal; timeoutMs: number }): Promise<EnsembleHealth> {
  const problems: string[] = [];
  const modes: Record<string, string> = {};
  const seen = await Promise.all(members.map((m) => srvr(m, o).then((s) => ({ m, s }), (err: Error) => ({ m, err }))));
  const leaders: ZkAddress[] = [];
  for (const r of seen) {
    const name = showAddress(r.m);
    if ('err' in r) {
      if (r.err instanceof TaskermanError && !r.err.retryable) throw r.err;
      modes[name] = 'down';
      problems.push(`${name} does not answer (${r.err.message})`);
    } else if (!r.s.serving) {
      modes[name] = 'not serving';
      problems.push(`${name} is not serving requests`);
    } else {
      modes[name] = r.s.mode;
      if (r.s.mode === 'leader') leaders.push(r.m);
      else if (r.s.mode !== 'follower') problems.push(`${name} is ${r.s.mode}, not a voting follower`);
    }
  }
  if (leaders.length !== 1) problems.push(leaders.length === 0 ? 'no member is the leader' : `${leaders.length} members say they are the leader`);
  let syncedFollowers: number | undefined;
  let pendingSyncs: number | undefined;
  const leader = leaders.length === 1 ? leaders[0] : undefined;
  if (leader) {
    const kv = await mntr(leader, o);
    syncedFollowers = numberField(kv, 'zk_synced_followers');
    pendingSyncs = numberField(kv, 'zk_pending_syncs');
    const want = members.length - 1;
    if (syncedFollowers === undefined) problems.push(`the leader ${showAddress(leader)} does not report zk_synced_followers`);
    else if (syncedFollowers < want) problems.push(`the leader ${showAddress(leader)} has ${syncedFollowers} of ${want} followers synced`);
    if (pendingSyncs !== undefined && pendingSyncs > 0) problems.push(`the leader ${showAddress(leader)} has ${pendingSyncs} syncs pending`);
  }
  return { ok: problems.length === 0, problems, leader: leader ? showAddress(leader) : undefined, modes, syncedFollowers, pendingSyncs };
}
