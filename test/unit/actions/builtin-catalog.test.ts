// The catalog the CLI checks a task's action with (one action's module at a time) against the set the daemons
// run (builtin.ts): the same names, contract versions and argument schemas, so `run`/`submit` refuse exactly
// what a router would refuse.
import assert from 'node:assert/strict';
import { z } from 'zod';
import { builtinActions, builtinRegistry } from '../../../actions/builtin.js';
import { BUILTIN_ACTION_NAMES, loadBuiltinAction } from '../../../actions/builtin-catalog.js';
import { checkAction } from '../../../cli/check-action.js';
import { parseTaskSpec } from '../../../core/task/task-spec.js';
import { TaskermanError, UnknownActionError } from '../../../core/errors.js';

const schemaOf = (s: z.ZodType) => JSON.stringify(z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' }));

describe('built-in action catalog (the CLI\'s check)', () => {
  it('has every built-in action, each with the version and argument schema the daemons use', async () => {
    const all = builtinActions();
    assert.deepEqual([...BUILTIN_ACTION_NAMES], all.map((a) => a.name).sort());
    for (const a of all) {
      const one = await loadBuiltinAction(a.name);
      assert.ok(one, a.name);
      assert.equal(one.name, a.name);
      assert.equal(one.version, a.version, a.name);
      assert.equal(schemaOf(one.args), schemaOf(a.args), `${a.name}: argument schema`);
    }
    assert.equal(await loadBuiltinAction('toString'), undefined);
    assert.equal(await loadBuiltinAction('nginx:reload'), undefined);
  });

  it('checkAction refuses what the registry refuses, with the same errors', async () => {
    const spec = (action: string, args: Record<string, unknown> = {}, version?: number) =>
      parseTaskSpec({ name: 't', action, cluster: 'c', destnode: 'a1', args, ...(version ? { version } : {}) });
    const registry = builtinRegistry();
    const registryError = (s: ReturnType<typeof spec>) => {
      try {
        registry.parseArgs(registry.get(s.action, s.version), s.args);
      } catch (err) {
        return err as TaskermanError;
      }
      return undefined;
    };
    for (const s of [spec('nginx:reload'), spec('redis:backup', { save_timeout_seconds: 0 }), spec('noop', {}, 2), spec('sleep', { seconds: 'soon' })]) {
      const expected = registryError(s);
      assert.ok(expected, s.action);
      await assert.rejects(checkAction(s), (err: unknown) => {
        assert.ok(err instanceof TaskermanError);
        assert.equal(err.code, expected.code);
        assert.equal(err.message, expected.message);
        assert.equal(err.hint, expected.hint);
        return true;
      });
    }
    await assert.rejects(checkAction(spec('nginx:reload')), UnknownActionError);
    await checkAction(spec('noop'));
    await checkAction(spec('zookeeper:restart'));
  });
});
