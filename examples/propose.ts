// The main job (`npm start`): load a bundled Arctic LSTM speculator, compile it for the best device
// (the H200's PTX path when CUDA is there, else the CPU backend), and propose draft tokens.
import { readFileSync } from 'node:fs';
import { loadSpeculator } from '../index.ts';

const dir = new URL('../tests/fixtures/speculators/lstm-tiny/', import.meta.url).pathname;
const { cases } = JSON.parse(readFileSync(dir + 'cases.json', 'utf8')) as { cases: { hidden: number[]; token: number; expected: number[] }[] };

const spec = await loadSpeculator({ model: dir, device: (process.env.ARCTICC_DEVICE as 'cpu' | 'cuda' | undefined) ?? 'auto' });
try {
  const batch = cases.slice(0, 8);
  const hidden = Float32Array.from(batch.flatMap((c) => c.hidden));
  const tokens = Int32Array.from(batch.map((c) => c.token));
  const t0 = performance.now();
  const draft = await spec.propose({ hidden, tokens });
  const ms = performance.now() - t0;
  const k = spec.numSpeculativeTokens;
  console.log(`speculator: Arctic LSTM (H=${spec.hiddenSize}, V=${spec.vocabSize}, k=${k}) from ${dir}`);
  console.log(`device: ${spec.deviceDescription}`);
  let matches = 0;
  batch.forEach((c, r) => {
    const d = Array.from(draft.subarray(r * k, (r + 1) * k));
    const ok = d.every((t, j) => t === c.expected[j]);
    if (ok) matches++;
    console.log(`  request ${r}: last token ${String(c.token).padStart(3)} -> draft [${d.join(', ')}]${ok ? '' : `  (reference: [${c.expected.join(', ')}])`}`);
  });
  console.log(`${matches}/${batch.length} proposals match the float64 reference; ${ms.toFixed(1)} ms for the batch`);
  if (matches !== batch.length) process.exitCode = 1;
} finally {
  spec.close();
}
