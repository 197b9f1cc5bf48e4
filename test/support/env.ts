// Where the shared test servers are, and fresh namespaces so that no two tests share state.
import { randomBytes } from 'node:crypto';

export function testZk(): string | undefined {
  return process.env.TASKERMAN_TEST_ZK;
}
export function testSqsEndpoint(): string {
  const e = process.env.TASKERMAN_TEST_SQS;
  if (!e) throw new Error('the SQS test server is not running (test/support/global-setup.ts)');
  return e;
}
/** Skip the calling suite when no ZooKeeper server runs (only outside CI; CI fails instead). */
export function requireZk(ctx: Mocha.Context): string {
  const zk = testZk();
  if (!zk) ctx.skip();
  return zk as string;
}
export function freshId(kind: string): string {
  return `${kind}${randomBytes(4).toString('hex')}`;
}
/** A fresh ZooKeeper root like /t-3f9a1c2e. */
export const freshZkRoot = (): string => `/${freshId('t-')}`;
/** A fresh queue prefix like t3f9a1c2e (queue prefixes allow [A-Za-z0-9_]). */
export const freshQueuePrefix = (): string => freshId('t');
