// Ephemeral sequential znodes that survive a lost reply (Curator's "protected" mode). A create whose reply is
// lost with the connection (CONNECTION_LOSS) may still have been applied: the znode then exists under this
// process's live session, and a plain retry would make a second one. For a keeper candidate that is a phantom
// ahead in the election (held by our own session for as long as it lives, so nobody ever keeps the cluster);
// for a budget request, a second request the keeper would grant later. Here every name carries a random id, and
// after a lost reply the next create first looks for the znode it may already have made, and adopts it.
import { randomBytes } from 'node:crypto';
import { CoordinatorError, joinPath, type Coordinator } from './coordinator.js';

export class ProtectedSequential {
  /** Hex, no '-': the sequence number stays what follows the name's last '-'. */
  readonly id = randomBytes(8).toString('hex');
  /** A create's reply was lost: the znode may exist; look before creating again. */
  private uncertain = false;

  constructor(
    private readonly coordinator: Coordinator,
    private readonly dir: string,
    private readonly prefix: string,
  ) {}

  private get base(): string {
    return `${this.prefix}${this.id}-`;
  }

  /** Whether `name` (a child of the folder) is one this creator made. */
  owns(name: string): boolean {
    return name.startsWith(this.base);
  }

  /** The names of this creator's znodes in the folder now (after lost replies, possibly more than one). */
  async owned(): Promise<string[]> {
    return ((await this.coordinator.children(this.dir)) ?? []).filter((n) => this.owns(n));
  }

  /** Creates the znode (or finds the one a create with a lost reply made); returns its full path. */
  async create(data: Buffer): Promise<string> {
    if (this.uncertain) {
      const names = (await this.coordinator.children(this.dir)) ?? [];
      this.uncertain = false;
      const mine = names.filter((n) => this.owns(n)).sort();
      if (mine.length > 0) return joinPath(this.dir, mine[mine.length - 1] as string);
    }
    try {
      return await this.coordinator.create(joinPath(this.dir, this.base), data, 'ephemeral_sequential');
    } catch (err) {
      if (err instanceof CoordinatorError && err.code === 'CONNECTION_LOSS') this.uncertain = true;
      throw err;
    }
  }
}
