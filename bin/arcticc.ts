#!/usr/bin/env node
// The arcticc command line. Each command lives in bin/commands/<name>.ts.
import { main } from './commands/main.ts';

process.exitCode = await main(process.argv.slice(2));
