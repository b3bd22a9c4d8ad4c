// LlamaForCausalLM in the DSL (docs/targets.md). One program serves prefill and decode/verify: N token
// rows of any mix of requests, each with its position and KV slot; the head runs on the M rows asked for.
import type { FloatDType, Program, Tensor } from '../dsl/index.ts';
import { attention, defineProgram, embedding, kvWrite, rmsNorm, rope } from '../dsl/index.ts';

/** How projection inputs are rounded (LlamaShape.activations, loadTarget, `--activations`). */
export const ACTIVATION_MODES = ['f32', 'bf16'] as const;
/** One of ACTIVATION_MODES. */
export type ActivationMode = (typeof ACTIVATION_MODES)[number];

/** `value` as an ActivationMode (undefined: 'f32'); a RangeError naming `where` and the modes otherwise. */
export function checkActivationMode(where: string, value: unknown): ActivationMode {
  if (value === undefined) return 'f32';
  if (!(ACTIVATION_MODES as readonly unknown[]).includes(value)) throw new RangeError(`${where}: activations must be one of ${ACTIVATION_MODES.join(', ')}, got ${JSON.stringify(value)}`);
  return value as ActivationMode;
}

/** The sizes and choices a Llama program is traced with (from config.json, max-model-len and slots). */
export interface LlamaShape {
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly vocabSize: number;
  readonly rmsNormEps: number;
  readonly tieWordEmbeddings: boolean;
  /** KV-cache slots (requests resident at once) and positions per slot (max-model-len) */
  readonly slots: number;
  readonly maxLen: number;
  /**
   * 'logits': f32[M, V]; 'argmax': next_tokens i32[M] fused into the head, logits never stored; 'both':
   * logits and their argmax (a runtime copies back only what a step needs)
   */
  readonly head: 'logits' | 'argmax' | 'both';
  /** cache storage (default f32: exact against fp32 references) */
  readonly kvDtype?: FloatDType;
  /** storage dtype of each weight (default bf16) */
  readonly weightDtype?: (name: string) => FloatDType;
  /**
   * 'bf16': every projection's (and the head's) input is rounded to bf16 first, as a bf16 PyTorch or vLLM
   * model computes, so the tensor-core kernels multiply one bf16 term per activation instead of three
   * (docs/targets.md, "Activations"); default 'f32' (exact against fp32 references)
   */
  readonly activations?: ActivationMode;
}

/** Canonical parameter names: Hugging Face's, with q/k/v and gate/up merged (the loader concatenates them). */
export const llamaParam = {
  embed: 'model.embed_tokens.weight',
  norm: 'model.norm.weight',
  lmHead: 'lm_head.weight',
  ropeCos: 'rope.cos',
  ropeSin: 'rope.sin',
  layer: (i: number) => ({
    inputNorm: `model.layers.${i}.input_layernorm.weight`,
    qkv: `model.layers.${i}.self_attn.qkv_proj.weight`,
    o: `model.layers.${i}.self_attn.o_proj.weight`,
    postNorm: `model.layers.${i}.post_attention_layernorm.weight`,
    gateUp: `model.layers.${i}.mlp.gate_up_proj.weight`,
    down: `model.layers.${i}.mlp.down_proj.weight`,
  }),
  cache: (i: number, kind: 'key' | 'value') => `kv_${i}_${kind}`,
  cacheOut: (i: number, kind: 'key' | 'value') => `kv_${i}_${kind}_out`,
};

/** Trace LlamaForCausalLM for a shape: one program for prefill and decode/verify over N token rows. */
export function llamaProgram(c: LlamaShape): Program {
  const { hiddenSize: H, intermediateSize: I, numHeads: Hq, numKvHeads: Hk, headDim: D, vocabSize: V } = c;
  const kvDtype = c.kvDtype ?? 'f32';
  const wd = c.weightDtype ?? (() => 'bf16' as const);
  const QKV = (Hq + 2 * Hk) * D;
  return defineProgram('llama', { H, I, V, QKV, S: c.slots, L: c.maxLen }, (p) => {
    const tokens = p.input('tokens', ['N'], 'i32');
    const positions = p.input('positions', ['N'], 'i32');
    const slots = p.input('slots', ['N'], 'i32');
    const rows = p.input('rows', ['M'], 'i32');
    const caches = Array.from({ length: c.numLayers }, (_, i) => ({
      k: p.input(llamaParam.cache(i, 'key'), ['S', 'L', Hk, D], kvDtype),
      v: p.input(llamaParam.cache(i, 'value'), ['S', 'L', Hk, D], kvDtype),
    }));
    const param = <const S extends readonly (number | string)[]>(name: string, shape: S) => p.param(name, shape, wd(name));
    const embed = param(llamaParam.embed, ['V', 'H']);
    const cos = p.param(llamaParam.ropeCos, ['L', D / 2], 'f32');
    const sin = p.param(llamaParam.ropeSin, ['L', D / 2], 'f32');
    const eps = c.rmsNormEps;
    const scale = 1 / Math.sqrt(D);

    const act = <T extends Tensor>(t: T): T => (c.activations === 'bf16' ? t.cast('bf16').cast('f32') as unknown as T : t);
    let x: Tensor<readonly ['N', 'H'], 'f32'> = embedding(embed, tokens);
    for (let i = 0; i < c.numLayers; i++) {
      const w = llamaParam.layer(i);
      const h = rmsNorm(x, { eps, weight: param(w.inputNorm, ['H']) });
      const qkv = act(h).linear(param(w.qkv, ['QKV', 'H']));
      const q = rope(qkv.slice(-1, 0, Hq * D, Hq * D).reshape(['N', Hq, D]), positions, cos, sin);
      const k = rope(qkv.slice(-1, Hq * D, (Hq + Hk) * D, Hk * D).reshape(['N', Hk, D]), positions, cos, sin);
      const v = qkv.slice(-1, (Hq + Hk) * D, QKV, Hk * D).reshape(['N', Hk, D]);
      const kc = kvWrite(caches[i].k, k, slots, positions);
      const vc = kvWrite(caches[i].v, v, slots, positions);
      p.output(llamaParam.cacheOut(i, 'key'), kc);
      p.output(llamaParam.cacheOut(i, 'value'), vc);
      const a = attention(q, kc, vc, slots, positions, { scale }).reshape(['N', Hq * D]);
      x = x.add(act(a).linear(param(w.o, ['H', Hq * D])));
      const h2 = rmsNorm(x, { eps, weight: param(w.postNorm, ['H']) });
      const gu = act(h2).linear(param(w.gateUp, [2 * I, 'H']));
      const mlp = gu.slice(-1, 0, I, 'I').silu().mul(gu.slice(-1, I, 2 * I, 'I'));
      x = x.add(act(mlp).linear(param(w.down, ['H', 'I'])));
    }
    const final = rmsNorm(x, { eps, weight: param(llamaParam.norm, ['H']) });
    const picked = embedding(final, rows);
    p.output('hidden', picked);
    const head = c.tieWordEmbeddings ? embed : param(llamaParam.lmHead, ['V', 'H']);
    const logits = act(picked).linear(head);
    if (c.head !== 'logits') p.output('next_tokens', logits.argmax(-1));
    if (c.head !== 'argmax') p.output('logits', logits);
  });
}
