// An action's local config: endpoints, unit names, binaries, paths and credentials come from the runner's
// --config file (`actions: { "<name>": {...} }`), validated at runner start, never from a task. An action
// whose section is absent is still registered (a router validates its arguments everywhere), and refuses to
// run on that node with a message that says where to configure it.
import { readFile } from 'node:fs/promises';
import { TaskermanError } from '../../core/errors.js';

/** The config, or a non-retryable NOT_ALLOWED error naming the section to add. */
export function requireConfig<C>(action: string, config: C | undefined): C {
  if (config === undefined) {
    throw new TaskermanError('NOT_ALLOWED', `action "${action}" is not configured on this runner`, {
      retryable: false,
      hint: `add an \`actions: { "${action}": {...} }\` section to the runner --config (examples/runner-config.yaml)`,
    });
  }
  return config;
}

/** A secret from a file (mode 0600, owned by the runner), trimmed of its trailing newline. */
export async function readSecretFile(file: string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).replace(/\r?\n$/, '');
  } catch (err) {
    throw new TaskermanError('NOT_ALLOWED', `cannot read the secret file ${file}: ${(err as Error).message}`, { cause: err, retryable: false });
  }
}
