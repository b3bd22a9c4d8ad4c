// The scheduler: partition a graph into kernels in launch order. Anchors (anchors.ts) are placed in
// topological order; each joins an existing kernel when its iteration space matches and everything
// it reads is available there (reach.ts): a norm joins the row kernel whose statistics it needs, the
// LSTM cell update joins the row kernel of the norm it applies, siblings share a map kernel.
// Otherwise it opens a new kernel: contraction → linear/matmul, reduce/row op → row, else → map.
// Decoder ops (docs/targets.md): a kv_write is a scatter kernel (the k and v writes of a layer share one)
// that stores into its cache input's buffer in place (donation: the input and the updated-cache output
// are one 'state' buffer); attention is a kernel of its own, its q expression (RoPE) inlined.
import { IRError } from '../ir/errors.ts';
import type { Graph } from '../ir/graph.ts';
import { graphNodes, graphParams, users } from '../ir/graph.ts';
import type { Node } from '../ir/node.ts';
import type { Shape } from '../ir/shape.ts';
import { sameShape } from '../ir/shape.ts';
import { chooseAnchors, fusableLinear } from './anchors.ts';
import type { AttentionSplitOptions } from './attention-split.ts';
import type { TcSplitOptions } from './tc-split.ts';
import { TC_SPLIT_ROWS, tcSlices } from './tc-split.ts';
import type { AttentionSplit } from './attention-split.ts';
import { attentionSplits } from './attention-split.ts';
import { GEMM_BM, GEMM_BN, gemmShapeOf, gemmSlices, gemmView } from './gemm-shape.ts';
import type { ReachResult } from './reach.ts';
import { reach, spaceTerms } from './reach.ts';
import type { PlanState } from '../codegen/plan.ts';
import type { Item, KernelKind, Schedule, ScheduledBuffer, ScheduledKernel, SplitKv } from './types.ts';
import { argmaxEpilogues, isCertified, isMarked } from '../passes/lm-head-argmax.ts';
import type { CertDerivation } from '../passes/lm-head-certify.ts';
import { certDerivation, CERT_CANDIDATES } from '../passes/lm-head-certify.ts';
import { isTopkMarked, topkEpilogues, topkNodes } from '../passes/lm-head-topk.ts';
import { isContraction, isLeaf, isRowMap, isRowReduce, reduceAxis, viewBase } from './types.ts';

export interface ScheduleOptions {
  /** the largest value of each symbolic dim (sizes the attention split's scratch) */
  readonly maxDims?: Readonly<Record<string, number>>;
  readonly attention?: AttentionSplitOptions;
  readonly tcSplit?: TcSplitOptions;
}

/**
 * Whether x = r · (factors without r) through a chain of muls: then linear(x, w) = inv · linear(x with r
 * replaced by its operand, w) row by row, and a linear kernel applies r's statistic after the k loop
 * (docs/fusion.md).
 */
function scales(x: Node, r: Node, anchors: ReadonlySet<Node>): boolean {
  const has = (n: Node, seen = new Set<Node>()): boolean => {
    if (n === r) return true;
    if (seen.has(n) || isLeaf(n) || anchors.has(n)) return false;
    seen.add(n);
    return n.src.some((s) => has(s, seen));
  };
  if (x === r) return true;
  // not a quotient r / c: its div.rn.f32 (a call) per x element next to the sums of squares spilled
  // registers in the GEMV (the speculators' ln0(h)/√2); that norm keeps its row kernel
  if (x.op !== 'mul') return false;
  const [a, b] = x.src;
  const ha = has(a), hb = has(b);
  return ha !== hb && scales(ha ? a : b, r, anchors);
}

export function scheduleGraph(g: Graph, opts: ScheduleOptions = {}): Schedule {
  const { anchors, epilogues, operandInline } = chooseAnchors(g);
  const kernels: ScheduledKernel[] = [];
  const home = new Map<Node, ScheduledKernel>();
  const itemOf = new Map<Node, Item>();
  const bufferOf = new Map<Node, string>();
  const fixed: ScheduledBuffer[] = [];
  const temps: ScheduledBuffer[] = [];

  const use = users(g);
  const donated = donatedInputs(g, use);
  const outputNodes = new Set(g.outputs.map((o) => o.node));
  // rms_norms that a linear may compute in its x load (docs/fusion.md): skipped where they stand in
  // topological order, decided when their linear is placed
  const deferred = new Map<Node, Node[]>(); // linear → its norms
  const deferredNorm = new Set<Node>();
  for (const l of operandInline) {
    const tree = new Set<Node>(), norms: Node[] = [];
    const visit = (n: Node): void => {
      if (tree.has(n) || isLeaf(n) || n.op === 'const') return;
      if (anchors.has(n)) {
        if (n.op === 'rms_norm' && !outputNodes.has(n) && sameShape(n.shape, l.src[0].shape) && !norms.includes(n)) norms.push(n);
        return;
      }
      tree.add(n);
      n.src.forEach(visit);
    };
    visit(l.src[0]);
    // the expression must be the linear's own: every inlined node and norm read only inside it
    const own = (n: Node): boolean => (use.get(n) ?? []).every((u) => u === l || tree.has(u));
    if (norms.length === 1 && scales(l.src[0], norms[0], anchors) && [...tree].every(own) && norms.every(own)) {
      deferred.set(l, norms);
      for (const r of norms) deferredNorm.add(r);
    }
  }
  const inputs = g.inputs.flatMap((n) => {
    const name = n.argOf<string>('name');
    if (donated.has(n)) {
      const id = `state:${name}`;
      fixed.push({ id, kind: 'state', dtype: n.dtype, shape: n.shape, name });
      bufferOf.set(n, id);
      bufferOf.set(donated.get(n)!, id);
      return [];
    }
    const id = `input:${name}`;
    fixed.push({ id, kind: 'input', dtype: n.dtype, shape: n.shape, name });
    bufferOf.set(n, id);
    return [id];
  });
  const stateOf = new Map<Node, Node>([...donated].map(([i, w]) => [w, i]));
  for (const n of graphParams(g)) {
    const id = `param:${n.argOf<string>('name')}`;
    fixed.push({ id, kind: 'param', dtype: n.dtype, shape: n.shape, name: n.argOf<string>('name') });
    bufferOf.set(n, id);
  }
  const outBuf = new Map<Node, string>();
  const stateOut = new Map<Node, string>();
  for (const o of g.outputs) if (stateOf.has(o.node) && !stateOut.has(o.node)) stateOut.set(o.node, o.name);
  const state: PlanState[] = [...donated].map(([i, w]) => ({ input: i.argOf<string>('name'), output: stateOut.get(w) ?? null, buffer: bufferOf.get(i)! }));
  const returned = g.outputs.filter((o) => stateOut.get(o.node) !== o.name);
  const outputs = returned.map((o) => {
    let id = outBuf.get(o.node);
    if (id === undefined || isLeaf(o.node)) {
      id = `output:${o.name}`;
      fixed.push({ id, kind: 'output', dtype: o.node.dtype, shape: o.node.shape, name: o.name });
      if (!isLeaf(o.node)) outBuf.set(o.node, id);
    }
    return { name: o.name, buffer: id };
  });

  const ensureStored = (n: Node): string => {
    const known = bufferOf.get(n);
    if (known) return known;
    const item = itemOf.get(n);
    if (!item) throw new Error(`schedule: ${n} is read from memory but no kernel computes it`);
    let id = outBuf.get(n);
    if (id === undefined) {
      id = `t${temps.length}`;
      temps.push({ id, kind: 'temp', dtype: n.dtype, shape: n.shape });
    }
    item.store = id;
    bufferOf.set(n, id);
    return id;
  };
  const newKernel = (kind: KernelKind, shape: Shape, axis: number | null): ScheduledKernel =>
    ({ index: kernels.length, kind, shape, axis, items: [] });
  const addItem = (k: ScheduledKernel, n: Node, stored: boolean): void => {
    if (k.index === kernels.length) kernels.push(k);
    const item: Item = { node: n, store: null };
    k.items.push(item);
    itemOf.set(n, item);
    home.set(n, k);
    if (stored || outBuf.has(n)) ensureStored(n);
  };
  const ctx = { anchors, home };
  // kernels of GEMMs placed ahead of topological order: not "the last kernel" a later anchor may join
  const pulledKernels = new Set<ScheduledKernel>();
  const lastKernel = (): ScheduledKernel | undefined => {
    for (let i = kernels.length - 1; i >= 0; i--) if (!pulledKernels.has(kernels[i])) return kernels[i];
    return undefined;
  };

  // argmax {epilogue = "linear"} (the lm-head-argmax pass marks it: argmax(linear(x, w), -1) where the
  // logits have no other use; argmaxEpilogues recovers the parts): one kernel computes the logits and
  // keeps only per-block (max, index) partials, so they never reach memory (see ScheduledKernel.partials).
  // An fp8 head (fp8-matmul pass) has its per-column scale between the two,
  // argmax(mul(linear(x, w), broadcast(scale[N])), -1): the kernel scales each column before comparing.
  // topk_values/topk_indices {k, epilogue = "linear"} (the lm-head-topk pass) likewise, with each block's
  // first k pairs per row as its partials (k rounds of the argmax epilogue) and a top-k reduce launch.
  // argmax {epilogue = "certified"} (lm-head-certify; docs/certified-argmax.md): the same kernel, whose
  // tensor-core variant keeps CERT_CANDIDATES + 1 pairs per block and certifies each row; the derived param
  // Ŵ is a param buffer the runtime builds at upload (Schedule.derived).
  const fused = new Map<Node, { outs: Node[]; mul?: Node; scale?: Node; k?: number; cert?: CertDerivation }>();
  for (const e of argmaxEpilogues(g).values()) {
    if (!isMarked(e.argmax)) continue;
    const cert = isCertified(e.argmax) ? certDerivation(e) : undefined;
    fused.set(e.linear, { outs: [e.argmax], mul: e.mul, scale: e.scale, ...(cert ? { cert } : {}) });
  }
  const derived: CertDerivation[] = [];
  for (const e of topkEpilogues(g).values()) {
    const outs = topkNodes(e);
    if (outs.every(isTopkMarked)) fused.set(e.linear, { outs, mul: e.mul, scale: e.scale, k: e.k });
  }

  // a concat along axis 0 of GEMM results nothing else reads (the chunked cross entropy's weight gradient,
  // linearCrossEntropy): each GEMM stores its rows into the concat's buffer, and the concat is no kernel
  const concatInto = new Map<Node, { concat: Node; at: number }>();
  for (const n of graphNodes(g)) {
    if (n.op !== 'concat' || n.arg?.axis !== 0 || n.shape.length !== 2 || n.dtype !== 'f32' || !n.shape.every((d) => typeof d === 'number')) continue;
    const own = (s: Node): boolean => gemmShapeOf(s) !== null && !fused.has(s) && !outputNodes.has(s) && (use.get(s) ?? []).length === 1;
    if (!n.src.every(own) || new Set(n.src).size !== n.src.length) continue;
    let row = 0;
    for (const s of n.src) { concatInto.set(s, { concat: n, at: row * (n.shape[1] as number) * 4 }); row += s.shape[0] as number; }
    anchors.add(n);
  }
  const concatBuffer = (c: Node): string => {
    let id = bufferOf.get(c) ?? outBuf.get(c);
    if (id === undefined) {
      id = `t${temps.length}`;
      temps.push({ id, kind: 'temp', dtype: c.dtype, shape: c.shape });
    }
    bufferOf.set(c, id);
    return id;
  };
  // the row and map kernels that read each stored node (a reduction of an operand another row kernel
  // already reduces joins that kernel: the chunked cross entropy's label pick beside the chunk's max and sum)
  const readers = new Map<Node, ScheduledKernel[]>();
  const noteReads = (k: ScheduledKernel, ext: ReadonlySet<Node>): void => {
    for (const e of ext) { const l = readers.get(e); if (!l) readers.set(e, [k]); else if (!l.includes(k)) l.push(k); }
  };

  /** Operands read inside kernel k at its own coordinates `terms`: whatever they need from memory is stored. */
  const readInline = (k: ScheduledKernel, x: Node, terms: string[]): boolean => {
    if (isLeaf(x)) return true;
    const r = reach(ctx, k, x, terms, !anchors.has(x));
    if (!r.ok) return false;
    for (const e of r.external) ensureStored(e);
    return true;
  };
  const placeDecoder = (n: Node): void => {
    const rows = n.op === 'kv_write' ? n.src[1] : n.src[0];
    const rowTerms = ['r0'];
    if (n.op === 'kv_write') {
      // the k and v writes of a layer: one scatter kernel over [N, Hkv, D]
      const last = kernels[kernels.length - 1];
      const k = last?.kind === 'scatter' && sameShape(last.shape, rows.shape) ? last : newKernel('scatter', rows.shape, null);
      if (k.index === kernels.length) kernels.push(k);
      const item: Item = { node: n, store: bufferOf.get(n)! };
      k.items.push(item);
      itemOf.set(n, item);
      home.set(n, k);
      const terms = spaceTerms(rows.shape, null);
      if (!readInline(k, rows, terms) || !readInline(k, n.src[2], rowTerms) || !readInline(k, n.src[3], rowTerms)) {
        throw new Error(`schedule: ${n}: its operands cannot be computed in its scatter kernel`);
      }
      return;
    }
    let k = newKernel('attention', n.shape, null);
    const [, Hq, D] = n.shape as number[];
    const withScratch = (split: AttentionSplit): SplitKv => {
      const scratch = `t${temps.length}`;
      temps.push({ id: scratch, kind: 'temp', dtype: 'f32', shape: [split.rows, Hq, split.chunks, D + 2] });
      return { ...split, scratch };
    };
    const [small, many] = attentionSplits(n, opts.maxDims, opts.attention);
    if (small) k = { ...k, splitKv: withScratch(small), ...(many ? { splitKvMany: withScratch(many) } : {}) };
    addItem(k, n, true);
    for (const c of [n.src[1], n.src[2]]) if (!isLeaf(c)) ensureStored(c);
    if (!readInline(k, rows, spaceTerms(rows.shape, null)) || !readInline(k, n.src[3], rowTerms) || !readInline(k, n.src[4], rowTerms)) {
      throw new Error(`schedule: ${n}: its operands cannot be computed in its attention kernel`);
    }
  };

  /**
   * A fusable linear (docs/fusion.md): its x computed in the x load (with the rms_norms it owns) when
   * reachable, and its one elementwise user stored in its place when that is computable there. Falls back
   * to the plain form (x and the norms placed as before and stored, the user inlined where read).
   */
  /** The x operand of linear n placed as it would be without fusion: its norms, then x itself (stored by the caller). */
  const materializeX = (n: Node): void => {
    for (const nr of deferred.get(n) ?? []) { deferredNorm.delete(nr); place(nr); }
    anchors.add(n.src[0]);
    place(n.src[0]);
  };
  const placeLinear = (n: Node): void => {
    const x = n.src[0], w = n.src[1];
    let operand: ScheduledKernel['operand'];
    if (operandInline.has(n) && !anchors.has(x)) {
      const norms = deferred.get(n) ?? [];
      // x is evaluated at (m, k): check it as a row kernel over x's shape would be, the norms its own
      const view = newKernel('row', x.shape, x.shape.length - 1);
      for (const r of norms) home.set(r, view);
      const r = reach(ctx, view, x, spaceTerms(x.shape, x.shape.length - 1), true);
      for (const nr of norms) home.delete(nr);
      if (r.ok) {
        for (const e of r.external) ensureStored(e);
        operand = { x, norms };
      } else materializeX(n);
    }
    if (!operand) { const base = viewBase(x); if (!isLeaf(base)) ensureStored(base); }
    if (!isLeaf(viewBase(w))) ensureStored(viewBase(w));
    let k: ScheduledKernel = { ...newKernel('linear', n.shape, null), ...(operand ? { operand } : {}) };
    // split along K at ≤ 256 rows where the tensor-core kernel would have too few blocks (tc-split.ts); not
    // with a fused norm, whose row statistic needs all of K before the sum is scaled
    const maxRows = x.shape.slice(0, -1).reduce<number>((a, d) => a * (typeof d === 'number' ? d : opts.maxDims?.[d] ?? Infinity), 1);
    const staticAbove = x.shape.slice(0, -1).every((d) => typeof d === 'number') && maxRows > TC_SPLIT_ROWS;
    const slices = operand?.norms.length || staticAbove ? 1 : tcSlices(n, maxRows, opts.tcSplit);
    if (slices > 1 && Number.isFinite(maxRows)) {
      const rows = Math.min(TC_SPLIT_ROWS, maxRows), scratch = `t${temps.length}`;
      temps.push({ id: scratch, kind: 'temp', dtype: 'f32', shape: [slices, rows, w.shape[0]] });
      k = { ...k, tcSplit: { slices, rows, scratch } };
    }
    kernels.push(k);
    for (const r of operand?.norms ?? []) home.set(r, k); // statistics and values computed in the x load
    const e = epilogues.get(n);
    if (e && anchors.has(e) && !home.has(e)) {
      addItem(k, n, false);
      const r = reach(ctx, k, e, spaceTerms(e.shape, null), true);
      if (r.ok) {
        addItem(k, e, true);
        for (const ext of r.external) ensureStored(ext);
        return;
      }
      anchors.delete(e); // inlined where read, as without the epilogue
      ensureStored(n);
      return;
    }
    addItem(k, n, true);
  };

  const place = (n: Node): void => {
    if (home.has(n)) return; // an argmax or top-k placed with its linear
    if (deferredNorm.has(n)) return; // computed in its linear's x load, or placed when that fails
    if (fusableLinear(n) && !fused.has(n)) { placeLinear(n); return; }
    if (n.op === 'kv_write' || n.op === 'attention') { placeDecoder(n); return; }
    const f = fused.get(n);
    if (f) {
      // the argmax / top-k epilogue kernels read x from memory: an x chooseAnchors left for the x load is placed here
      if (operandInline.has(n) && !anchors.has(n.src[0])) materializeX(n);
      for (const s of n.src) { const base = viewBase(s); if (!isLeaf(base)) ensureStored(base); }
      // 8 columns per block is the narrowest block of any linear variant
      const stride = Math.ceil((n.shape[n.shape.length - 1] as number) / 8);
      const shape = [...n.shape.slice(0, -1), stride * (f.k ?? (f.cert ? CERT_CANDIDATES + 1 : 1))];
      const values = `t${temps.length}`;
      temps.push({ id: values, kind: 'temp', dtype: 'f32', shape });
      const indices = `t${temps.length}`;
      temps.push({ id: indices, kind: 'temp', dtype: 'i32', shape });
      const scale = f.scale && bufferOf.get(viewBase(f.scale));
      let certified: { candidates: number; fail: string; certnorm: string } | undefined;
      if (f.cert) {
        const certnorm = `param:${f.cert.name}`;
        if (!derived.some((d) => d.name === f.cert!.name)) {
          derived.push(f.cert);
          fixed.push({ id: certnorm, kind: 'param', dtype: 'f32', shape: [1], name: f.cert.name });
        }
        const fail = `t${temps.length}`;
        temps.push({ id: fail, kind: 'temp', dtype: 'i32', shape: n.shape.slice(0, -1) });
        certified = { candidates: CERT_CANDIDATES, fail, certnorm };
      }
      const k: ScheduledKernel = { ...newKernel('linear', n.shape, null), partials: { values, indices, stride, ...(scale ? { scale } : {}), ...(f.k ? { k: f.k } : {}), ...(certified ? { certified } : {}) } };
      addItem(k, n, false);
      if (f.mul) addItem(k, f.mul, false);
      for (const o of f.outs) addItem(k, o, true);
      return;
    }
    if (n.op === 'scatter_add') {
      // a kernel of its own (kernel-scatter-add.ts): updates and ids from memory
      for (const s of n.src) { const base = viewBase(s); if (!isLeaf(base)) ensureStored(base); }
      addItem(newKernel('scatter_add', n.shape, null), n, true);
      return;
    }
    if (n.op === 'concat' && n.src.every((s) => concatInto.get(s)?.concat === n)) {
      // written in place by its operands' GEMMs (all placed: they come first in topological order)
      concatBuffer(n);
      home.set(n, n.src.map((s) => home.get(s)!).reduce((a, b) => (b.index > a.index ? b : a)));
      return;
    }
    if (isContraction(n)) {
      for (const s of n.src) { const base = gemmView(n, s).node; if (!isLeaf(base)) ensureStored(base); }
      const gs = gemmShapeOf(n), slices = gs ? gemmSlices(gs, GEMM_BM, GEMM_BN) : 1;
      let k = newKernel(n.op as KernelKind, n.shape, null);
      if (gs && slices > 1) {
        const scratch = `t${temps.length}`;
        temps.push({ id: scratch, kind: 'temp', dtype: 'f32', shape: [slices, gs.M, gs.N] });
        k = { ...k, splitK: { slices, scratch } };
      }
      const into = concatInto.get(n);
      if (into) {
        addItem(k, n, false);
        const item = itemOf.get(n)!;
        item.store = concatBuffer(into.concat);
        item.storeAt = into.at;
        return;
      }
      addItem(k, n, true);
      return;
    }
    const reduce = isRowReduce(n) || isRowMap(n);
    const shape = reduce ? n.src[0].shape : n.shape;
    const axis = reduce ? reduceAxis(n) : null;
    const check = (k: ScheduledKernel): ReachResult | null => {
      if ((k.kind !== 'map' && k.kind !== 'row') || !sameShape(k.shape, shape)) return null;
      if (reduce && (k.kind !== 'row' || k.axis !== axis)) return null;
      const terms = spaceTerms(k.shape, k.axis);
      const r = reduce ? reach(ctx, k, n.src[0], terms, false) : reach(ctx, k, n, terms, true);
      return r.ok ? r : null;
    };
    // candidates: the kernels owning anchors the expression reads (latest first), then the last kernel
    const fresh = newKernel(reduce ? 'row' : 'map', shape, axis);
    const probe = check(fresh) ?? reach(ctx, fresh, n, spaceTerms(shape, axis), true);
    const owners = [...probe.external].map((e) => home.get(e)!).filter((k) => k.kind === 'row' || k.kind === 'map');
    const last = lastKernel();
    const siblings = [...probe.external].flatMap((e) => readers.get(e) ?? []).filter((k) => k.kind === 'row' || k.kind === 'map').sort((a, b) => b.index - a.index);
    const candidates = [...new Set([...owners.sort((a, b) => b.index - a.index), ...(last ? [last] : []), ...siblings])];
    for (const k of candidates) {
      const r = check(k);
      if (r) {
        addItem(k, n, !reduce);
        for (const e of r.external) ensureStored(e);
        noteReads(k, r.external);
        return;
      }
    }
    // a reduction over the space of the map kernel just before it: make that a row kernel (its
    // elements become the first store phase) rather than launching another
    if (reduce && last?.kind === 'map' && sameShape(last.shape, shape)) {
      const asRow: ScheduledKernel = { ...last, kind: 'row', axis };
      for (const it of last.items) if (home.get(it.node) === last) home.set(it.node, asRow);
      const r = check(asRow);
      if (r) {
        kernels[last.index] = asRow;
        for (const l of readers.values()) { const i = l.indexOf(last); if (i >= 0) l[i] = asRow; }
        addItem(asRow, n, false);
        for (const e of r.external) ensureStored(e);
        noteReads(asRow, r.external);
        return;
      }
      for (const it of last.items) if (home.get(it.node) === asRow) home.set(it.node, last);
    }
    addItem(fresh, n, !reduce);
    for (const e of probe.external) ensureStored(e);
    noteReads(fresh, probe.external);
  };

  // anchors in topological order, except that a weight-gradient GEMM (a matmul of a transpose, read in
  // place: dW = gᵀ·x) runs right after its operands, so g is not kept live to the end of the backward
  // (the chunked cross entropy's g_c dies after its chunk's dX and dW, not after every chunk's)
  const order = graphNodes(g).filter((n) => anchors.has(n));
  const pos = new Map(order.map((n, i) => [n, i]));
  const early = new Map<number, Node[]>();
  const pulled = new Set<Node>();
  for (const n of order) {
    if (n.op !== 'matmul' || !gemmShapeOf(n)?.aT) continue;
    let after = -1;
    for (const s of n.src) { const b = gemmView(n, s).node; if (!isLeaf(b)) after = Math.max(after, pos.get(b) ?? Infinity); }
    if (!(after < pos.get(n)! - 1)) continue;
    pulled.add(n);
    const l = early.get(after);
    if (l) l.push(n); else early.set(after, [n]);
  }
  order.forEach((n, i) => {
    if (!pulled.has(n)) place(n);
    for (const m of early.get(i) ?? []) { const before = kernels.length; place(m); for (let j = before; j < kernels.length; j++) pulledKernels.add(kernels[j]); }
  });

  // outputs that are inputs or params: copy them (the runtime owns output buffers separately)
  returned.forEach((o, i) => {
    if (!isLeaf(o.node)) return;
    const last = kernels[kernels.length - 1];
    const k = last && last.kind === 'map' && sameShape(last.shape, o.node.shape) ? last : newKernel('map', o.node.shape, null);
    if (k.index === kernels.length) kernels.push(k);
    k.items.push({ node: o.node, store: outputs[i].buffer });
  });

  const inlined = new Set(graphNodes(g).filter((n) => !isLeaf(n) && n.op !== 'const' && !anchors.has(n)));
  return { graph: g, kernels, buffers: [...fixed, ...temps], bufferOf, home, inlined, inputs, outputs, state, derived };
}

/**
 * Every kv_write updates its cache in place (buffer donation, docs/targets.md): its cache operand must be
 * a program input of static shape that nothing else reads. Returns input → its kv_write.
 */
function donatedInputs(g: Graph, use: ReadonlyMap<Node, Node[]>): Map<Node, Node> {
  const out = new Map<Node, Node>();
  for (const n of graphNodes(g)) {
    if (n.op !== 'kv_write') continue;
    const c = n.src[0];
    if (c.op !== 'input') {
      throw new IRError(`schedule ${g.name}: ${n} writes into ${c}, which is not a program input; a kv_write updates its cache input in place (buffer donation), so the cache must be an input`);
    }
    const name = c.argOf<string>('name');
    const others = (use.get(c) ?? []).filter((u) => u !== n);
    if (others.length > 0 || n.src.slice(1).includes(c)) {
      throw new IRError(`schedule ${g.name}: cache input "${name}" of ${n} is also read by ${others[0] ?? n}; the write happens in place (buffer donation), so nothing else may read the old cache (read the kv_write's result instead)`);
    }
    if (g.outputs.some((o) => o.node === c)) {
      throw new IRError(`schedule ${g.name}: cache input "${name}" of ${n} is also a program output; the write happens in place (buffer donation), so the old cache cannot be returned`);
    }
    if (c.shape.some((d) => typeof d !== 'number')) {
      throw new IRError(`schedule ${g.name}: cache input "${name}" has shape [${c.shape.join(', ')}]; donated state is allocated once, so its shape must be static`);
    }
    out.set(c, n);
  }
  return out;
}
