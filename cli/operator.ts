// Who an operator command acts as, recorded with every policy, hold and release: the OS user (the sudo
// caller when run under sudo) at this host, e.g. "alice@ops-bastion-1".
import { hostname } from 'node:os';
import { currentUser } from '../core/task/emit.js';

export function operatorId(): string {
  return `${currentUser()}@${hostname()}`;
}
