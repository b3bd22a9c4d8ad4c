// Bad input to the target: each a clear error naming the thing, raised before any work, and the model
// stays usable afterwards.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSafetensors } from '../../../runtime/checkpoint/safetensors.ts';
import { safetensorsEntry, writeSafetensors } from '../../../runtime/checkpoint/safetensors-write.ts';
import { hostTensor } from '../../../compiler/ir/tensor-data.ts';
import { generate } from '../../../runtime/engine/generate.ts';
import type { TargetModel } from '../../../runtime/target/target-model.ts';
import { loadTarget } from '../../../runtime/target/target-model.ts';
import { devPrompts, TARGET_DIR } from '../../support/target.ts';

const config = JSON.parse(readFileSync(`${TARGET_DIR}/config.json`, 'utf8'));
const dirs: string[] = [];
function variant(patch: Record<string, unknown>, weights?: (w: Map<string, ReturnType<typeof hostTensor>>) => void): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'arcticc-target-'));
  dirs.push(dir);
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...config, ...patch }));
  if (!weights) copyFileSync(`${TARGET_DIR}/model.safetensors`, path.join(dir, 'model.safetensors'));
  else {
    const w = readSafetensors(`${TARGET_DIR}/model.safetensors`);
    weights(w);
    writeSafetensors(path.join(dir, 'model.safetensors'), [...w].map(([n, t]) => safetensorsEntry(n, t)));
  }
  return dir;
}

let target: TargetModel;
const prompt = devPrompts()[3].slice(0, 10);
let expected: number[];
beforeAll(async () => {
  target = await loadTarget({ model: TARGET_DIR, device: 'cpu', maxModelLen: 32, maxNumSeqs: 4 });
  expected = (await generate(target, [prompt], { maxNewTokens: 4 })).outputs[0].tokenIds;
}, 120_000);
afterAll(() => { target?.close(); for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

/** after any rejected call: nothing leaked, and a good request gives the same tokens as before */
async function stillUsable(): Promise<void> {
  expect(target.slots.inUse).toBe(0);
  expect((await generate(target, [prompt], { maxNewTokens: 4 })).outputs[0].tokenIds).toEqual(expected);
}

describe('requests', () => {
  it('unknown token ids name the prompt, position and vocabulary', async () => {
    await expect(generate(target, [prompt, [1, 4096, 3]])).rejects.toThrow('prompt 1: token 1 is 4096, outside the vocabulary [0, 4096)');
    await expect(generate(target, [[-1]])).rejects.toThrow('prompt 0: token 0 is -1');
    await expect(generate(target, [[1.5]])).rejects.toThrow('prompt 0: token 0 is 1.5');
    await stillUsable();
  });
  it('empty prompts and no prompts', async () => {
    await expect(generate(target, [prompt, []])).rejects.toThrow('prompt 1: empty');
    await expect(generate(target, [])).rejects.toThrow('generate: no prompts');
    await stillUsable();
  });
  it('a prompt at or over max-model-len names its length and the limit', async () => {
    await expect(generate(target, [prompt, new Array(32).fill(5)])).rejects.toThrow('prompt 1: 32 tokens leave no room for output within max-model-len 32');
    await stillUsable();
  });
  it('generation reaching max-model-len stops that request (finish "length"); the batch goes on', async () => {
    const long = devPrompts()[9].slice(0, 29);
    const { outputs } = await generate(target, [long, prompt], { maxNewTokens: 8, stopTokenIds: [] });
    expect(outputs[0].tokenIds.length).toBe(3); // 29 + 3 = 32 positions
    expect(outputs[0].finishReason).toBe('length');
    expect(outputs[1].tokenIds.length).toBe(8);
    expect(outputs[1].tokenIds.slice(0, 4)).toEqual(expected);
    await stillUsable();
  });
  it('a forward past max-model-len is refused before any state changes', async () => {
    const seq = target.newSequence('request "long"');
    try {
      await target.forward([{ seq, tokens: new Array(20).fill(3), want: 'last' }]);
      await expect(target.forward([{ seq, tokens: new Array(13).fill(3), want: 'last' }]))
        .rejects.toThrow('request "long": 20 cached + 13 new tokens = 33 exceeds max-model-len 32');
      expect(seq.length).toBe(20);
    } finally { seq.close(); }
    await stillUsable();
  });
  it('more sequences than slots, and bad sampling options', async () => {
    const seqs = [0, 1, 2, 3].map((i) => target.newSequence(`s${i}`));
    expect(() => target.newSequence('one too many')).toThrow('one too many: all 4 KV-cache slots are in use');
    for (const s of seqs) s.close();
    await expect(generate(target, [prompt], { temperature: -1 })).rejects.toThrow('temperature must be a finite number ≥ 0');
    await expect(generate(target, [prompt], { topK: 1.5 })).rejects.toThrow('top-k must be an integer ≥ 0');
    await expect(generate(target, [prompt], { maxNewTokens: 0 })).rejects.toThrow('max-new-tokens must be a positive integer');
    await stillUsable();
  });
});

describe('checkpoints', () => {
  const load = (model: string, extra: object = {}) => loadTarget({ model, device: 'cpu', maxModelLen: 32, maxNumSeqs: 1, ...extra });
  it('configs the model cannot run are rejected by field', async () => {
    await expect(load(variant({ architectures: ['MistralForCausalLM'] }))).rejects.toThrow(/field "architectures": unsupported architecture \["MistralForCausalLM"\]/);
    await expect(load(variant({ attention_bias: true }))).rejects.toThrow(/field "attention_bias": attention biases are not supported/);
    await expect(load(variant({ hidden_act: 'gelu' }))).rejects.toThrow(/field "hidden_act": only "silu" is supported, found "gelu"/);
    await expect(load(variant({ rope_parameters: { rope_type: 'yarn', rope_theta: 10000 } }))).rejects.toThrow(/field "rope_parameters.rope_type": rope type "yarn" is not supported/);
    await expect(load(variant({ rope_parameters: { rope_type: 'llama3', rope_theta: 10000, factor: 8 } }))).rejects.toThrow(/rope_parameters.low_freq_factor.*required for rope type "llama3"/);
    await expect(load(variant({ num_key_value_heads: 3 }))).rejects.toThrow(/field "num_key_value_heads": 3 does not divide num_attention_heads 4/);
    await expect(load(variant({ hidden_size: 'big' }))).rejects.toThrow(/field "hidden_size"/);
    await expect(load(TARGET_DIR, { maxModelLen: 4096 })).rejects.toThrow(/maxModelLen 4096 exceeds the model's max_position_embeddings 2048/);
  });
  it('missing, mis-shaped, mis-typed and unexpected weights are named before any data is read', async () => {
    const drop = variant({}, (w) => w.delete('model.layers.3.self_attn.k_proj.weight'));
    await expect(load(drop)).rejects.toThrow(/tensor model\.layers\.3\.self_attn\.k_proj\.weight: missing \(expected \[128, 256\]/);
    const shape = variant({}, (w) => w.set('model.layers.0.mlp.up_proj.weight', hostTensor('bf16', [700, 256])));
    await expect(load(shape)).rejects.toThrow(/tensor model\.layers\.0\.mlp\.up_proj\.weight: expected \[768, 256\] \(intermediate_size × hidden_size from config.json\), found \[700, 256\]/);
    const dtype = variant({}, (w) => w.set('model.norm.weight', hostTensor('i32', [256])));
    await expect(load(dtype)).rejects.toThrow(/tensor model\.norm\.weight: expected a float dtype/);
    const extra = variant({}, (w) => w.set('model.layers.6.input_layernorm.weight', hostTensor('bf16', [256])));
    await expect(load(extra)).rejects.toThrow(/unexpected tensors for LlamaForCausalLM with 6 layers: model\.layers\.6\.input_layernorm\.weight/);
    const layers = variant({ num_hidden_layers: 7 });
    await expect(load(layers)).rejects.toThrow(/tensor model\.layers\.6\.input_layernorm\.weight: missing/);
    await expect(load('/nonexistent/model')).rejects.toThrow(/checkpoint folder does not exist/);
    await stillUsable();
  });
});

describe('loadTarget activations', () => {
  it("'bf16' rounds every projection's input through bf16 in the program, 'f32' (the default) none; anything else is a RangeError before loading", async () => {
    const casts = async (activations?: 'f32' | 'bf16'): Promise<number> => {
      const t = await loadTarget({ model: TARGET_DIR, device: 'cpu', quiet: true, maxModelLen: 64, maxNumSeqs: 1, activations });
      try {
        let n = 0;
        const seen = new Set<unknown>();
        const walk = (x: { op: string; dtype: string; src: readonly unknown[] }): void => {
          if (seen.has(x)) return;
          seen.add(x);
          if (x.op === 'cast' && x.dtype === 'bf16') n++;
          for (const s of x.src) walk(s as typeof x);
        };
        for (const o of t.program.graph.outputs) walk(o.node as never);
        return n;
      } finally { t.close(); }
    };
    expect(await casts()).toBe(0);
    expect(await casts('f32')).toBe(0);
    // per layer: the qkv, o, gate_up and down inputs; then the head's
    expect(await casts('bf16')).toBeGreaterThanOrEqual(6 * 4 + 1);
    for (const bad of ['fp16', '', 16]) {
      await expect(loadTarget({ model: '/nonexistent', device: 'cpu', activations: bad as never })).rejects.toThrow(/loadTarget: activations must be one of f32, bf16, got/);
    }
  }, 60_000);
});
