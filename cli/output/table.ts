// A plain-text table: a header row, columns aligned on their widest cell (colour codes not counted), the last
// column left ragged.
import { visibleLength } from './colour.js';

export function table(rows: string[][], opts: { rightAlign?: number[] } = {}): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => visibleLength(r[i] ?? '')))) ?? [];
  const right = new Set(opts.rightAlign ?? []);
  return rows
    .map((r) =>
      r
        .map((c, i) => {
          if (i === r.length - 1 && !right.has(i)) return c;
          const pad = ' '.repeat(Math.max(0, (widths[i] ?? 0) - visibleLength(c)));
          return right.has(i) ? pad + c : c + pad;
        })
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** A duration for people: 850ms, 12.3s, 4m05s, 2h03m, 3d04h. */
export function humanDuration(ms: number | null): string {
  if (ms === null) return '-';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.floor(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86_400)}d${String(Math.floor((s % 86_400) / 3600)).padStart(2, '0')}h`;
}
