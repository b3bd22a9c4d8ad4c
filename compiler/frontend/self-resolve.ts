// Makes `import … from 'arcticc'` and `'arcticc/dsl'` in a user's drafter file resolve to the copy of
// arcticc that is running, wherever the file lives (a project with arcticc installed, a scratch folder,
// this repository). One copy matters: a program traced by another copy's DSL would carry IR nodes this
// compiler does not know.
import module from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

// the sources run as .ts; the published build (dist/) as .js with .d.ts next to it, in the same layout
const fromSource = import.meta.url.endsWith('.ts');
const ext = fromSource ? '.ts' : '.js';

/** Entry module URL of each public specifier of this copy. */
export const PACKAGE_ENTRIES: Readonly<Record<string, string>> = {
  arcticc: new URL(`../../index${ext}`, import.meta.url).href,
  'arcticc/dsl': new URL(`../../dsl/index${ext}`, import.meta.url).href,
};

/** Type entry file of each public specifier (for type-checking user files against this copy). */
export const PACKAGE_TYPES: Readonly<Record<string, string>> = {
  arcticc: fileURLToPath(new URL(`../../index${fromSource ? '.ts' : '.d.ts'}`, import.meta.url)),
  'arcticc/dsl': fileURLToPath(new URL(`../../dsl/index${fromSource ? '.ts' : '.d.ts'}`, import.meta.url)),
};

/** The folder the package's entry files live in (the repo root, or dist/ of an installed package). */
export const PACKAGE_ROOT = dirname(fileURLToPath(PACKAGE_ENTRIES.arcticc));

let registered = false;

/** Installs the resolve hook once (Node ≥ 22.15 has module.registerHooks; elsewhere this is a no-op). */
export function resolveArcticcToThisCopy(): void {
  if (registered) return;
  registered = true;
  const register = (module as unknown as { registerHooks?: (h: unknown) => unknown }).registerHooks;
  if (typeof register !== 'function') return;
  register({
    resolve(specifier: string, context: unknown, next: (s: string, c: unknown) => unknown) {
      const url = PACKAGE_ENTRIES[specifier];
      return url ? { url, format: 'module', shortCircuit: true } : next(specifier, context);
    },
  });
}
