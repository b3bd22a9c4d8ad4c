// The tracing scope: dim bindings for names, and the source line each node came from.
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IRError } from '../compiler/ir/errors.ts';
import type { Node } from '../compiler/ir/node.ts';
import type { Dim } from '../compiler/ir/shape.ts';

/** A mistake found while tracing (e.g. two sizes for one dim name); carries the file:line:column of the DSL call. */
export class DslError extends Error {
  override name = 'DslError';
  readonly site: string | undefined;
  constructor(message: string, site: string | undefined) {
    super(site ? `${message}\n    at ${site}` : message);
    this.site = site;
  }
}

// This package's own dsl/ and compiler/ folders, by absolute path: a user's file that merely lives in a
// folder named "dsl" (e.g. tests/unit/dsl/x.test.ts) is still the user's.
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OWN = [join(ROOT, 'dsl') + sep, join(ROOT, 'compiler') + sep];
const EXTERNAL = /^node:|[\\/]node_modules[\\/]/;

/** The first stack frame outside the DSL and compiler: the user's file:line:column. */
export function callSite(): string | undefined {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 64; // the user's frame can sit below more than the default 10 DSL frames
  const stack = new Error().stack?.split('\n').slice(1) ?? [];
  Error.stackTraceLimit = limit;
  for (const line of stack) {
    const m = /\(?((?:file:\/\/)?[^()\s]+)(:\d+:\d+)\)?\s*$/.exec(line);
    if (!m) continue;
    const loc = (m[1].startsWith('file://') ? fileURLToPath(m[1]) : m[1]) + m[2];
    if (EXTERNAL.test(loc) || OWN.some((d) => loc.startsWith(d))) continue;
    return loc;
  }
  return undefined;
}

export class Scope {
  readonly dims: ReadonlyMap<string, number>;
  /** where each node was first built, for error messages after tracing */
  readonly sites = new WeakMap<Node, string>();
  constructor(dims: Readonly<Record<string, number>>) {
    for (const [k, v] of Object.entries(dims)) {
      if (!Number.isInteger(v) || v < 1) throw new DslError(`dim "${k}" must be a positive integer, got ${v}`, callSite());
    }
    this.dims = new Map(Object.entries(dims));
  }
  resolve(d: Dim): Dim {
    return typeof d === 'number' ? d : this.dims.get(d) ?? d;
  }
  /** Run an IR construction; IR errors become DslErrors pointing at the user's source line. */
  build(f: () => Node): Node {
    try {
      const n = f();
      if (!this.sites.has(n)) { const s = callSite(); if (s) this.sites.set(n, s); }
      return n;
    } catch (e) {
      if (e instanceof IRError) throw new DslError(e.message, callSite());
      throw e;
    }
  }
}
