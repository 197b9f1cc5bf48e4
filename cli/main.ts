#!/usr/bin/env node
// Entry point of the `taskerman` command: the only place that exits the process.
import { main } from './program.js';

// A reader that stops early (`taskerman audit | head -1`): the rest of the output has nowhere to go. Stop
// quietly, as Unix tools do, instead of a stack trace on stderr.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

const code = await main(process.argv);
process.exitCode = code;
// Everything is closed by now; if a library still holds a handle, do not hang the shell on it.
setTimeout(() => process.exit(code), 3000).unref();
