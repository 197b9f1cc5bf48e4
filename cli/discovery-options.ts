// The discovery adapters a command needs (router, plan), built from one set of options. The EC2 adapter
// (and with it @aws-sdk/client-ec2, the heaviest module Taskerman has) is imported only when a task with
// `discovery: aws_tags` is resolved; its options are still checked at once.
import { Option, type Command } from 'commander';
import { ExplicitDiscovery, MembersDiscovery, StaticDiscovery, type Discovery, type DiscoveryMap } from '../core/discovery/discovery.js';
import { compileNodeIdSource } from '../core/discovery/ec2-discovery-options.js';
import type { Ec2TagDiscovery } from '../core/discovery/ec2-discovery.js';
import type { Logger } from '../core/logger.js';
import { Membership } from '../core/coordination/membership.js';
import type { TaskStore } from '../core/task/task-store.js';
import type { CommonConfig } from './config.js';

export interface DiscoveryFlags {
  inventoryRoot?: string;
  ec2Endpoint?: string;
  ec2TagKey: string;
  ec2NodeId: string;
}

export function withDiscoveryOptions(cmd: Command): Command {
  return cmd
    .option('--inventory-root <dir>', 'directory that static inventory paths are relative to (default: the current directory)')
    .addOption(new Option('--ec2-endpoint <url>', 'EC2 endpoint for aws_tags discovery (LocalStack)').env('AWS_ENDPOINT_URL_EC2'))
    .option('--ec2-tag-key <key>', 'tag whose value is the cluster name, for aws_tags discovery', 'taskerman:cluster')
    .option('--ec2-node-id <source>', "what names a node: instance-id, private-dns, private-ip or tag:<Key> (must match each runner's --node)", 'private-dns');
}

export interface Discoveries {
  map: DiscoveryMap;
  close(): void;
}

export function buildDiscoveries(flags: DiscoveryFlags, cfg: CommonConfig, store: TaskStore, logger: Logger): Discoveries {
  const nodeId = compileNodeIdSource(flags.ec2NodeId);
  let ec2: Promise<Ec2TagDiscovery> | undefined;
  let closed = false;
  const loadEc2 = (): Promise<Ec2TagDiscovery> => {
    ec2 ??= import('../core/discovery/ec2-discovery.js').then(({ Ec2TagDiscovery }) => new Ec2TagDiscovery({
      region: cfg.region,
      ...(flags.ec2Endpoint ? { endpoint: flags.ec2Endpoint } : {}),
      tagKey: flags.ec2TagKey,
      nodeId,
      logger: logger.child({ component: 'ec2-discovery' }),
    }));
    return ec2;
  };
  const awsTags: Discovery = {
    kind: 'aws_tags',
    resolve: async (spec) => {
      const d = await loadEc2();
      // Closed while the module loaded: do not leave a client open behind the caller's back.
      if (closed) d.close();
      return d.resolve(spec);
    },
  };
  return {
    map: {
      explicit: new ExplicitDiscovery(),
      static: new StaticDiscovery(flags.inventoryRoot ?? process.cwd()),
      members: new MembersDiscovery(new Membership(store.coordinator, store.paths)),
      aws_tags: awsTags,
    },
    close: () => {
      closed = true;
      void ec2?.then((d) => d.close(), () => undefined);
    },
  };
}
