#!/usr/bin/env node
// Entry point of the `taskerman` command: the only place that exits the process.
import { main } from './program.js';

const code = await main(process.argv);
process.exitCode = code;
// Everything is closed by now; if a library still holds a handle, do not hang the shell on it.
setTimeout(() => process.exit(code), 3000).unref();
