// "Did you mean `limit`?": the closest known name to a misspelt one, for errors about unknown spec fields,
// config keys and options. Damerau-Levenshtein distance (a swap of two neighbours costs 1, so `limt` and
// `lmiit` both find `limit`), accepted when it is small for the word's length.

export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const at = (i: number, j: number): number => d[i]?.[j] ?? Number.POSITIVE_INFINITY;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, at(i - 2, j - 2) + 1);
      (d[i] as number[])[j] = v;
    }
  }
  return at(a.length, b.length);
}

/** The known name closest to `word`, if it is close enough to be what was meant. */
export function didYouMean(word: string, known: readonly string[]): string | undefined {
  const w = word.toLowerCase().replace(/-/g, '_');
  let best: { name: string; dist: number } | undefined;
  for (const name of known) {
    const dist = editDistance(w, name.toLowerCase());
    if (!best || dist < best.dist) best = { name, dist };
  }
  const allowed = Math.max(1, Math.floor(word.length / 3));
  return best && best.dist <= allowed ? best.name : undefined;
}
