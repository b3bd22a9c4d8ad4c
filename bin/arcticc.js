#!/usr/bin/env node
// The `arcticc` executable. In a checkout it runs the TypeScript sources (bin/arcticc.ts, Node ≥ 22.18
// strips the types); installed under node_modules, where Node does not strip types, it runs the
// compiled build in dist/ that `npm pack` (prepack) produced.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(import.meta.url);
const source = new URL('./arcticc.ts', import.meta.url);
const built = new URL('../dist/bin/arcticc.js', import.meta.url);
const installed = /[\\/]node_modules[\\/]/.test(here);
await import((installed || !existsSync(source) ? built : source).href);
