// The kernel's boot id: a random UUID drawn at every boot, so two reads that differ prove a reboot happened
// between them (uptime can be fooled by a clock step; the boot id cannot). The path is configurable for tests.
import { readFile } from 'node:fs/promises';
import { TaskermanError } from '../../core/errors.js';

export const BOOT_ID_FILE = '/proc/sys/kernel/random/boot_id';

export async function readBootId(file = BOOT_ID_FILE): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new TaskermanError('CHECK_FAILED', `cannot read the boot id from ${file}: ${(err as Error).message}`, { cause: err, retryable: false });
  }
  const id = text.trim();
  if (!id) throw new TaskermanError('CHECK_FAILED', `${file} is empty`, { retryable: false });
  return id;
}
