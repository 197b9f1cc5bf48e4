// An example site plugin: `acme:disk-cleanup` runs the node's own cleanup command (from the runner config,
// never from the task) when a filesystem is fuller than the task allows, and checks afterwards that enough
// space is free. Build it to an ES module (`npx tsc -p examples/plugins`, or any bundler), copy the .js to
// the node, pin it in the runner config:
//
//   plugins:
//     - module: /etc/taskerman/plugins/disk-space.js
//       sha256: <sha256sum /etc/taskerman/plugins/disk-space.js>
//       config: { path: /var/lib/cassandra, cleanup: [/usr/local/bin/cassandra-clear-snapshots] }
//
// Everything it uses at run time (zod, the kit, defineAction) comes in the plugin context: the module only
// imports types (a site plugin writes `from 'taskerman'`), so it needs nothing installed on the node.
import { statfs } from 'node:fs/promises';
import type { TaskermanPlugin } from '../../actions/index.js';

const plugin: TaskermanPlugin = {
  name: 'acme-disk',
  actions({ z, kit, config, defineAction }) {
    const cfg = z
      .strictObject({
        /** The filesystem to watch. */
        path: z.string().min(1),
        /** What frees space on it: an argv, run without a shell. */
        cleanup: z.array(z.string().min(1)).min(1),
      })
      .parse(config);
    const usedPercent = async () => {
      const s = await statfs(cfg.path);
      return 100 - (s.bavail / s.blocks) * 100;
    };
    return [
      defineAction<{ max_used_percent: number }>({
        name: 'acme:disk-cleanup',
        version: 1,
        description: `Runs the cleanup command when ${cfg.path} is fuller than max_used_percent; checks it is below afterwards.`,
        args: z.strictObject({ max_used_percent: z.number().min(1).max(99).default(80) }),
        async execute(ctx) {
          const used = await usedPercent();
          ctx.logger.info({ path: cfg.path, used_percent: Math.round(used) }, 'disk use before');
          // Idempotent: below the threshold there is nothing to do, whatever an earlier attempt did.
          if (used <= ctx.args.max_used_percent) return;
          await kit.runChecked(cfg.cleanup, { signal: ctx.signal, timeoutMs: 600_000 });
        },
        async postCheck(ctx) {
          const used = await usedPercent();
          ctx.logger.info({ path: cfg.path, used_percent: Math.round(used) }, 'disk use after');
          if (used > ctx.args.max_used_percent) throw new Error(`${cfg.path} is ${Math.round(used)}% used, above ${ctx.args.max_used_percent}%`);
        },
      }),
    ];
  },
};

export default plugin;
