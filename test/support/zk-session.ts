// Driving a real ZooKeeper session from a test: force its expiry, or drop its connection (a network blip).
import net from 'node:net';
import type { ZkClient } from '../../core/coordination/zk-coordinator-options.js';
import { within } from '../contract/coordinator.contract.js';

const CLOSE_SESSION_OP = -11;

/**
 * Expires a session the way ZooKeeper's own tests do: attach a second connection to it with its id and
 * password, and close it from there (the caller keeps the original client from reattaching meanwhile, or
 * it can win the session back before the CloseSession is processed, which then fails as SESSION_MOVED).
 * Raw jute rather than node-zookeeper-client: the library throws from its socket handler on server error
 * codes it does not know (SESSION_MOVED is one), which would crash the test process.
 */
export function forceExpire(connectionString: string, sessionId: Buffer, password: Buffer): Promise<void> {
  const [host = '127.0.0.1', port = '2181'] = (connectionString.split(',')[0] ?? '').split('/')[0]?.split(':') ?? [];
  const connect = Buffer.alloc(4 + 4 + 8 + 4 + 8 + 4 + password.length + 1);
  let o = connect.writeInt32BE(connect.length - 4, 0);
  o = connect.writeInt32BE(0, o); // protocol version
  o = connect.writeBigInt64BE(0n, o); // last zxid seen
  o = connect.writeInt32BE(10_000, o); // session timeout
  o += sessionId.copy(connect, o);
  o = connect.writeInt32BE(password.length, o);
  o += password.copy(connect, o);
  connect.writeUInt8(0, o); // read-only: no
  const close = Buffer.alloc(12);
  close.writeInt32BE(8, 0);
  close.writeInt32BE(1, 4); // xid
  close.writeInt32BE(CLOSE_SESSION_OP, 8);

  return within(
    new Promise<void>((resolve, reject) => {
      const sock = net.connect({ host, port: Number(port) }, () => sock.write(Buffer.concat([connect, close])));
      sock.on('data', () => undefined);
      sock.on('error', reject);
      sock.on('close', () => resolve());
    }),
    'the server to close the expiring session',
  );
}


/** node-zookeeper-client 1.1.3 keeps its socket on the connection manager; destroying it is a network blip. */
export function dropConnection(client: ZkClient): void {
  const cm = (client as unknown as { connectionManager?: { socket?: { destroy(): void } } }).connectionManager;
  if (!cm?.socket) throw new Error('node-zookeeper-client internals changed: no connectionManager.socket');
  cm.socket.destroy();
}


/**
 * Holds the reconnection attempts of a node-zookeeper-client 1.1.3 client (through its connection manager,
 * as the adapter's own `createLibraryClient` does) until the returned function is called.
 */
export function holdReconnects(client: ZkClient): () => void {
  const cm = (client as unknown as { connectionManager: { connect: () => void } }).connectionManager;
  const connect = cm.connect;
  let wanted = false;
  cm.connect = () => {
    wanted = true;
  };
  return () => {
    cm.connect = connect;
    if (wanted) connect.call(cm);
  };
}


/** Expires the client's session for real, holding its reconnection so it cannot win the session back. */
export async function expireSession(connectionString: string, client: ZkClient): Promise<void> {
  const release = holdReconnects(client);
  try {
    await forceExpire(connectionString, client.getSessionId(), client.getSessionPassword());
  } finally {
    release();
  }
}
