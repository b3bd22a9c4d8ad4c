// lm-head-certify: the certified argmax head (docs/certified-argmax.md) as a rewrite. A fused LM-head argmax
// (argmax {epilogue = "linear"}, lm-head-argmax) whose head the tensor-core kernel takes — f32 x, a bf16 or e4m3
// param weight, K a whole number of 16-byte groups, and for an fp8 head a param scale — becomes
// argmax {epilogue = "certified"}: at B ≥ 5 the scheduler then computes the logits with one bf16 term of x,
// bounds their error, recomputes the candidates exactly and falls back to the three-term kernel for the rows
// the bound cannot settle. The graph means the same (the interpreter ignores `epilogue`). What the pass
// needs per head, Ŵ = max_n |s_n|·‖w_n‖₂ as the param "<W>.certnorm", it returns as data (lmHeadCertifyDerived),
// and the schedule records it in the plan (ExecutionPlan.derived), built from the bound weights at upload.
import { z } from 'zod';
import type { Graph } from '../ir/graph.ts';
import { makeGraph, toposort } from '../ir/graph.ts';
import { Node } from '../ir/node.ts';
import { bf16Exact } from './bf16-activations.ts';
import { definePass } from './pass.ts';
import type { ArgmaxEpilogue } from './lm-head-argmax.ts';
import { ARGMAX_EPILOGUE, argmaxEpilogues, CERTIFIED_EPILOGUE, isCertified, isMarked } from './lm-head-argmax.ts';

/**
 * Candidates a certified row recomputes exactly (each block keeps CERT_CANDIDATES + 1 pairs per row). 8: on the
 * fixture speculator (pycode-small-lstm, 48 real head rows, bench/cert-rate.ts) 4 candidates left 1 (bf16) and 2
 * (fp8) rows uncertified, 8 none.
 */
export const CERT_CANDIDATES = 8;

/** The param name suffix of a head's Ŵ bound. */
export const CERTNORM_SUFFIX = '.certnorm';

/** One derived param: name, the weight param [N, K] and (fp8 heads) the scale param [N] it is made from. */
export interface CertDerivation {
  readonly name: string;
  readonly kind: 'max_row_norm';
  readonly weight: string;
  readonly scale?: string;
}

const BYTES: Readonly<Record<string, number>> = { bf16: 2, fp8e4m3: 1 };

/** The derivation of a fused head the certified kernel can take, or undefined (the rules at the top). */
export function certDerivation(e: Omit<ArgmaxEpilogue, 'argmax'>): CertDerivation | undefined {
  const [x, w] = e.linear.src;
  const K = x.shape[x.shape.length - 1], eb = BYTES[w.dtype];
  // an input already rounded to bf16 (bf16-activations) is one exact term: nothing to certify
  if (x.dtype !== 'f32' || bf16Exact(x) || w.op !== 'param' || eb === undefined || typeof K !== 'number' || K % (16 / eb) !== 0) return undefined;
  if (e.scale && e.scale.op !== 'param') return undefined;
  const weight = w.argOf<string>('name');
  return { name: weight + CERTNORM_SUFFIX, kind: 'max_row_norm', weight, ...(e.scale ? { scale: e.scale.argOf<string>('name') } : {}) };
}

/** The certified heads of g (marked or about to be): argmax node → its derivation. */
export function certifiedHeads(g: Graph, all = false): Map<Node, CertDerivation> {
  const out = new Map<Node, CertDerivation>();
  for (const e of argmaxEpilogues(g).values()) {
    if (!(all ? isMarked(e.argmax) : isCertified(e.argmax))) continue;
    const d = certDerivation(e);
    if (d) out.set(e.argmax, d);
  }
  return out;
}

/** lmHeadCertify, also returning what it derived (one param per certified head). */
export function lmHeadCertifyDerived(g: Graph): { graph: Graph; derived: CertDerivation[] } {
  const found = certifiedHeads(g, true);
  const derived = [...new Map([...found.values()].map((d) => [d.name, d])).values()];
  if ([...found.keys()].every(isCertified)) return { graph: g, derived };
  const map = new Map<Node, Node>();
  for (const n of toposort([...g.inputs, ...g.outputs.map((o) => o.node)])) {
    const src = n.src.map((s) => map.get(s)!);
    map.set(n, found.has(n) && !isCertified(n) ? Node.make('argmax', src, { ...n.arg, epilogue: CERTIFIED_EPILOGUE }) : n.withSrc(src));
  }
  return { graph: makeGraph(g.name, g.inputs.map((i) => map.get(i)!), g.outputs.map((o) => ({ name: o.name, node: map.get(o.node)! }))), derived };
}

export const lmHeadCertify = (g: Graph): Graph => lmHeadCertifyDerived(g).graph;

/**
 * The certified marks of heads whose batch can never reach `minRows` (at `maxDims`: only the GEMV is planned
 * there, which the mark does not change) turned back into "linear", so no unused fail buffer or derived param is
 * planned. compileProgram applies it with the tensor-core kernel's TC_MIN_ROWS.
 */
export function uncertifySmall(g: Graph, maxDims: Readonly<Record<string, number>>, minRows: number): Graph {
  const small = new Set([...certifiedHeads(g).keys()].filter((a) => {
    const x = argmaxEpilogues(g).get(a)!.linear.src[0];
    return x.shape.slice(0, -1).reduce<number>((p, d) => p * (typeof d === 'number' ? d : maxDims[d] ?? Infinity), 1) < minRows;
  }));
  if (small.size === 0) return g;
  const map = new Map<Node, Node>();
  for (const n of toposort([...g.inputs, ...g.outputs.map((o) => o.node)])) {
    const src = n.src.map((s) => map.get(s)!);
    map.set(n, small.has(n) ? Node.make('argmax', src, { ...n.arg, epilogue: ARGMAX_EPILOGUE }) : n.withSrc(src));
  }
  return makeGraph(g.name, g.inputs.map((i) => map.get(i)!), g.outputs.map((o) => ({ name: o.name, node: map.get(o.node)! })));
}

export default definePass({
  name: 'lm-head-certify',
  summary: 'certified argmax for fused LM heads at B ≥ 5: one bf16 term of x, an error bound, exact candidates, a fallback',
  description: [
    'Marks argmax {epilogue = "linear"} (run lm-head-argmax first) {epilogue = "certified"} when the head is f32 x',
    'times a bf16 or e4m3 param weight with K a multiple of 16 bytes (fp8 heads: a param scale). At B ≥ 5 the',
    'tensor-core kernel then rounds x to one bf16 term, keeps each block\'s first 9 pairs per row, and a reduce',
    'launch certifies each row with the bound max_n |s_n|·‖w_n‖₂·(‖x − x̂‖₂ + K·2^-22·‖x̂‖₂) (the param "<W>.certnorm",',
    'derived from the weights at upload), recomputes the 8 candidates exactly (f32 FMAs) and picks the token;',
    'rows that fail take the three-term kernel. Same tokens as the exact path (docs/certified-argmax.md). Opt-in.',
  ].join(' '),
  options: z.strictObject({}),
  run: (g) => lmHeadCertify(g),
});
