// The package version, read from the package.json above this file: the same code works from the
// sources (compiler/version.ts) and from the published build (dist/compiler/version.js).
import { readFileSync } from 'node:fs';

function findVersion(): string {
  for (let dir = new URL('./', import.meta.url); ; dir = new URL('../', dir)) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'arcticc' && typeof pkg.version === 'string') return pkg.version;
    } catch { /* no package.json here: keep walking up */ }
    if (dir.pathname === '/') throw new Error('arcticc: cannot find its package.json');
  }
}

/** The arcticc package version (package.json `version`). */
export const VERSION: string = findVersion();
