// PtxBuilder: the one place PTX text is assembled. It numbers virtual registers per type, collects
// .param and .shared declarations, and keeps two sections: a prologue (values every later block may
// use: params, special registers, dims, strides) and the body, so a loop never redefines a hoisted value.
import type { ParamType } from '../plan.ts';

/** Register classes. s32/u32 share the .b32 file and s64/u64 the .b64 file; the split only picks suffixes. */
export type RegType = 'pred' | 'b16' | 'u32' | 's32' | 'f32' | 'u64' | 's64';

const FILE: Record<RegType, { prefix: string; decl: string }> = {
  pred: { prefix: '%p', decl: '.pred' },
  b16: { prefix: '%h', decl: '.b16' },
  u32: { prefix: '%r', decl: '.b32' },
  s32: { prefix: '%r', decl: '.b32' },
  f32: { prefix: '%f', decl: '.f32' },
  u64: { prefix: '%rd', decl: '.b64' },
  s64: { prefix: '%rd', decl: '.b64' },
};

export const PTX_HEADER = '.version 9.0\n.target sm_90\n.address_size 64\n';
/** Where a kernel lets the next launch start (docs/pdl.md): at its start (after the wait), before its final ret, or never (implicitly at exit). */
export type PdlTrigger = 'start' | 'end' | 'none';
/** ARCTICC_PDL_TRIGGER=start|end|none, a diagnostic for A/B timing (default end: measured best, docs/pdl.md). */
export function pdlTrigger(): PdlTrigger {
  const v = process.env.ARCTICC_PDL_TRIGGER ?? 'end';
  if (v !== 'start' && v !== 'end' && v !== 'none') throw new RangeError(`ARCTICC_PDL_TRIGGER must be start, end or none, got ${JSON.stringify(v)}`);
  return v;
}
/**
 * The first instruction of every kernel (docs/pdl.md): griddepcontrol.wait blocks until the grids this
 * launch depends on have completed and their memory is visible, so nothing before it may touch global
 * memory. griddepcontrol.launch_dependents (placed per pdlTrigger) lets the next launch in the stream start
 * its blocks while this one runs.
 */
export const GRID_DEPENDENCY_WAIT = '  griddepcontrol.wait;';
export const GRID_DEPENDENCY_TRIGGER = '  griddepcontrol.launch_dependents;';

export class PtxBuilder {
  readonly params: { name: string; type: ParamType }[] = [];
  private readonly counts = new Map<string, number>();
  private readonly shared: string[] = [];
  private readonly pre: string[] = [];
  private readonly body: string[] = [];
  private out: string[] = this.body;
  private labels = 0;
  private depth = 1;

  /** A fresh virtual register of the given class. */
  reg(t: RegType): string {
    const { prefix } = FILE[t];
    const n = this.counts.get(prefix) ?? 0;
    this.counts.set(prefix, n + 1);
    return `${prefix}${n}`;
  }

  /** Declare a kernel parameter; the caller loads it (usually inside `hoist`). */
  param(name: string, type: ParamType): string {
    if (this.params.some((p) => p.name === name)) throw new Error(`duplicate kernel parameter ${name}`);
    this.params.push({ name, type });
    return name;
  }

  /** A static shared array; returns its name (its address is `mov.u32 r, name`). */
  sharedArray(name: string, bytes: number, align = 16): string {
    this.shared.push(`.shared .align ${align} .b8 ${name}[${bytes}];`);
    return name;
  }

  /** One instruction: `op a, b, c;`. */
  ins(op: string, ...operands: string[]): void {
    this.out.push(`${'  '.repeat(this.depth)}${op}${operands.length ? ' ' + operands.join(', ') : ''};`);
  }

  /** A predicated instruction: `@p op ...;` (`@!p` when negate). */
  insIf(pred: string, negate: boolean, op: string, ...operands: string[]): void {
    this.ins(`@${negate ? '!' : ''}${pred} ${op}`, ...operands);
  }

  /** A comment line; ptxas rejects non-ASCII anywhere, so other characters become '?'. */
  comment(text: string): void {
    this.out.push(`${'  '.repeat(this.depth)}// ${text.replace(/[^\x20-\x7e]/g, '?')}`);
  }

  newLabel(hint: string): string {
    return `$L_${hint}_${this.labels++}`;
  }

  label(name: string): void {
    this.out.push(`${name}:`);
  }

  /** Emit into the prologue: code there dominates every block of the body. */
  hoist<T>(fn: () => T): T {
    const saved = this.out;
    const savedDepth = this.depth;
    this.out = this.pre;
    this.depth = 1;
    try { return fn(); } finally { this.out = saved; this.depth = savedDepth; }
  }

  /** Indent what `fn` emits one level deeper (loop bodies read better). */
  indent<T>(fn: () => T): T {
    this.depth++;
    try { return fn(); } finally { this.depth--; }
  }

  /** Extra performance directives after .maxntid (e.g. `.maxnreg 168`). */
  readonly directives: string[] = [];

  /** The whole module: header, one .visible .entry, declarations, prologue, body. */
  build(entry: string, maxntid: number): string {
    const decls = new Map<string, string>();
    for (const t of Object.keys(FILE) as RegType[]) {
      const { prefix, decl } = FILE[t];
      const n = this.counts.get(prefix);
      if (n && !decls.has(prefix)) decls.set(prefix, `  .reg ${decl} ${prefix}<${n}>;`);
    }
    const params = this.params.map((p) => `  .param .${p.type} ${p.name}`).join(',\n');
    const trigger = pdlTrigger();
    return [
      PTX_HEADER,
      `.visible .entry ${entry}(`,
      params,
      `)`,
      `.maxntid ${maxntid}, 1, 1`,
      ...this.directives,
      '{',
      ...decls.values(),
      ...this.shared.map((s) => `  ${s}`),
      // programmatic dependent launch (docs/pdl.md): wait for the previous grid's memory before touching any,
      // then let the next grid start launching; both are no-ops for a launch without the PDL attribute
      GRID_DEPENDENCY_WAIT,
      ...(trigger === 'start' ? [GRID_DEPENDENCY_TRIGGER] : []),
      ...this.pre,
      ...this.body,
      ...(trigger === 'end' ? [GRID_DEPENDENCY_TRIGGER] : []),
      '  ret;',
      '}',
      '',
    ].join('\n');
  }
}

/** Declares a u64 parameter `name` of a hand-written kernel and loads it as a global address. */
export function loadParamPtr(b: PtxBuilder, name: string): string {
  const r = b.reg('u64');
  b.ins('ld.param.u64', r, `[${b.param(name, 'u64')}]`);
  b.ins('cvta.to.global.u64', r, r);
  return r;
}

/** Declares a u32 parameter `name` of a hand-written kernel and loads it. */
export function loadParamU32(b: PtxBuilder, name: string): string {
  const r = b.reg('u32');
  b.ins('ld.param.u32', r, `[${b.param(name, 'u32')}]`);
  return r;
}
