// The tracing scope: dim bindings for names, and the source line each node came from.
import { IRError } from '../compiler/ir/errors.ts';
import type { Node } from '../compiler/ir/node.ts';
import type { Dim } from '../compiler/ir/shape.ts';

export class DslError extends Error {
  override name = 'DslError';
  readonly site: string | undefined;
  constructor(message: string, site: string | undefined) {
    super(site ? `${message}\n    at ${site}` : message);
    this.site = site;
  }
}

const INTERNAL = /[\\/](dsl|compiler)[\\/][^\\/]+\.ts|node:internal|node_modules/;

/** The first stack frame outside the DSL and compiler: the user's file:line:column. */
export function callSite(): string | undefined {
  const stack = new Error().stack?.split('\n').slice(1) ?? [];
  for (const line of stack) {
    if (INTERNAL.test(line)) continue;
    const m = /\(?((?:file:\/\/)?[^()\s]+:\d+:\d+)\)?\s*$/.exec(line);
    if (m) return m[1].replace(/^file:\/\//, '');
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
