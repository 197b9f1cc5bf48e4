// `noop`: does nothing, successfully. For wiring checks ("can every runner of this cluster take work?").
import { z } from 'zod';
import { defineAction } from './action.js';

export const noopAction = defineAction({
  name: 'noop',
  version: 1,
  description: 'Does nothing; proves a node can receive and complete work.',
  args: z.strictObject({}),
  async execute(ctx) {
    ctx.logger.info('noop');
  },
});
