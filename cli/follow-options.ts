// The option of every command that follows a task (`run --wait`, `submit --wait`, `status --watch`): how long
// ZooKeeper may stay unreachable before the command stops following (exit 3; the task goes on).
import { Option } from 'commander';
import { parseDuration } from '../core/duration.js';
import { OptionError } from '../core/errors.js';

export const giveUpOption = () =>
  new Option('--give-up-after <duration>', 'while following: stop (exit 3) after ZooKeeper was unreachable this long; the task goes on').default('5m');

export function parseGiveUp(v: string | undefined): number {
  const ms = parseDuration(v ?? '5m');
  if (ms === undefined || ms < 1000) throw new OptionError('give-up-after', `"${v}" must be a duration of at least 1s, like 30s or 5m`);
  return ms;
}
