// Library use: a speculative decoding loop with the Arctic LSTM speculator and suffix decoding combined
// (the hybrid rule of ArcticInference), against a small deterministic target model.
//   node examples/library-use.ts
import { HybridProposer, loadSpeculator, SpeculativeDecoder } from '../index.ts';
import type { TargetModel } from '../index.ts';

/** A toy target with the speculator's hidden size and vocabulary: h' = tanh(W·h + E[t]), logits = U·h'. */
function toyTarget(hiddenSize: number, vocabSize: number): TargetModel {
  let s = 12345;
  const rand = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const W = Float64Array.from({ length: hiddenSize * hiddenSize }, () => rand() * 1.2 / Math.sqrt(hiddenSize));
  const E = Float64Array.from({ length: vocabSize * hiddenSize }, rand);
  const U = Float64Array.from({ length: vocabSize * hiddenSize }, () => rand() * 3);
  return {
    hiddenSize, vocabSize,
    forward(tokens, count) {
      const H = hiddenSize, V = vocabSize;
      const hidden = new Float32Array(count * H), logits = new Float32Array(count * V);
      let h = new Float64Array(H);
      tokens.forEach((t, pos) => {
        const next = new Float64Array(H);
        for (let i = 0; i < H; i++) { let a = E[t * H + i]; for (let j = 0; j < H; j++) a += W[i * H + j] * h[j]; next[i] = Math.tanh(a); }
        h = next;
        const row = pos - (tokens.length - count);
        if (row < 0) return;
        hidden.set(h, row * H);
        for (let v = 0; v < V; v++) { let a = 0; for (let j = 0; j < H; j++) a += U[v * H + j] * h[j]; logits[row * V + v] = a; }
      });
      return { hidden, logits };
    },
  };
}

const model = new URL('../tests/fixtures/speculators/lstm-tiny/', import.meta.url).pathname;
const spec = await loadSpeculator({ model, device: 'auto' });
const target = toyTarget(spec.hiddenSize, spec.vocabSize);
const prompts = [Int32Array.from([1, 2, 3, 4, 5, 6, 7, 8]), Int32Array.from([100, 200, 300, 100, 200, 300])];

const plain = await new SpeculativeDecoder({ target }).generate(prompts, { maxNewTokens: 48 });
const decoder = new SpeculativeDecoder({ target, proposer: new HybridProposer({ model: spec }) });
const fast = await decoder.generate(prompts, { maxNewTokens: 48 });

console.log(`draft model: ${spec.deviceDescription}`);
fast.forEach((r, i) => {
  const same = r.tokens.length === plain[i].tokens.length && r.tokens.every((t, j) => t === plain[i].tokens[j]);
  console.log(`request ${i}: ${r.tokens.length} tokens, identical to plain greedy decoding: ${same}`);
});
const m = decoder.metrics.snapshot();
console.log(`drafts ${m.numDrafts}, drafted ${m.numDraftTokens}, accepted ${m.numAcceptedTokens}, mean acceptance length ${m.meanAcceptanceLength.toFixed(2)}`);
spec.close();
