// Parsing the line-oriented outputs that servers and tools print: "key=value" (systemctl show), "key\tvalue"
// (ZooKeeper mntr), "key:value" (Redis INFO, ZooKeeper srvr). One function, the separator given; the first
// separator of a line splits it, lines without one (headers, blanks, "# Replication") are skipped.

/** Parses `key<sep>value` lines into a map; later keys win; keys and values trimmed. */
export function parseKeyValues(text: string, sep: string | RegExp): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = typeof sep === 'string' ? indexSplit(line, sep) : regexSplit(line, sep);
    if (m) out.set(m[0].trim(), m[1].trim());
  }
  return out;
}

function indexSplit(line: string, sep: string): [string, string] | undefined {
  const i = line.indexOf(sep);
  return i <= 0 ? undefined : [line.slice(0, i), line.slice(i + sep.length)];
}

function regexSplit(line: string, sep: RegExp): [string, string] | undefined {
  const m = sep.exec(line);
  return !m || m.index <= 0 ? undefined : [line.slice(0, m.index), line.slice(m.index + m[0].length)];
}

/** A number from a parsed map, or undefined when absent or not a number. */
export function numberField(map: ReadonlyMap<string, string>, key: string): number | undefined {
  const v = map.get(key);
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}
