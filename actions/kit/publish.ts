// Publishing a file atomically: it is written under a temporary name in the destination directory, flushed to
// disk, checksummed (sha256, written beside it in `sha256sum` format), and only then renamed to its final
// name, and the directory flushed, so a half-written backup never looks complete and a crash leaves only a
// `.partial` file that the next attempt removes.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readdir, rename, rm, stat, writeFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import { TaskermanError } from '../../core/errors.js';

export const PARTIAL_SUFFIX = '.partial';
export const CHECKSUM_SUFFIX = '.sha256';

export async function sha256File(file: string, signal?: AbortSignal): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file, { signal })) h.update(chunk as Buffer);
  return h.digest('hex');
}

async function fsyncPath(p: string): Promise<void> {
  const fh = await open(p, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** The temporary name a file is written under before `publishFile` renames it to `final`. */
export function partialName(final: string): string {
  return final + PARTIAL_SUFFIX;
}

/**
 * Flushes `partial`, writes `<final>.sha256`, renames `partial` to `final`, flushes the directory. Returns
 * the sha256. The checksum is written first: a crash between the two leaves no final file, only a checksum
 * that the next publish overwrites.
 */
export async function publishFile(partial: string, final: string, signal?: AbortSignal): Promise<{ sha256: string; bytes: number }> {
  await fsyncPath(partial);
  const sha256 = await sha256File(partial, signal);
  const { size } = await stat(partial);
  await writeFile(final + CHECKSUM_SUFFIX, `${sha256}  ${path.basename(final)}\n`);
  await rename(partial, final);
  await fsyncPath(path.dirname(final));
  return { sha256, bytes: size };
}

/** Reads `<final>.sha256` and checks the file against it; throws CHECK_FAILED on any mismatch. */
export async function verifyPublished(final: string, signal?: AbortSignal): Promise<string> {
  let line: string;
  try {
    line = await readFile(final + CHECKSUM_SUFFIX, 'utf8');
  } catch (err) {
    throw new TaskermanError('CHECK_FAILED', `${final}${CHECKSUM_SUFFIX} cannot be read: ${(err as Error).message}`, { cause: err });
  }
  const want = line.trim().split(/\s+/)[0] ?? '';
  const got = await sha256File(final, signal).catch((err: Error) => {
    throw new TaskermanError('CHECK_FAILED', `${final} cannot be read: ${err.message}`, { cause: err });
  });
  if (want !== got) throw new TaskermanError('CHECK_FAILED', `${final} does not match its checksum (file ${got}, ${CHECKSUM_SUFFIX} says ${want})`);
  return got;
}

/** Removes a leftover partial file of an earlier attempt (a crash mid-write). */
export async function removePartial(final: string): Promise<void> {
  await rm(partialName(final), { force: true, recursive: true });
}

/**
 * Retention: keeps the `keep` newest published files of `dir` whose name starts with `prefix` and ends with
 * `suffix` (by modification time), removes the older ones with their checksums. Returns the removed names.
 */
export async function pruneOldest(dir: string, o: { prefix: string; suffix: string; keep: number }): Promise<string[]> {
  const names = (await readdir(dir)).filter((n) => n.startsWith(o.prefix) && n.endsWith(o.suffix));
  const withTimes = await Promise.all(names.map(async (n) => ({ n, t: (await stat(path.join(dir, n))).mtimeMs })));
  withTimes.sort((a, b) => b.t - a.t || b.n.localeCompare(a.n));
  const old = withTimes.slice(o.keep).map((x) => x.n);
  for (const n of old) {
    await rm(path.join(dir, n), { force: true, recursive: true });
    await rm(path.join(dir, n + CHECKSUM_SUFFIX), { force: true });
  }
  return old;
}
