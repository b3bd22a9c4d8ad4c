// The main job (`npm start`): the bundled target (pycode-small, a Llama-architecture code model) continues
// a held-out Python file with its Arctic LSTM speculator + suffix decoding, on the GPU when there is one
// and on the CPU otherwise; prints the text, tok/s beside plain decoding, and the acceptance figures.
import { readFileSync } from 'node:fs';
import { loadEngine, Tokenizer } from '../index.ts';
import { attachDrafter } from '../runtime/engine/load-engine.ts';

const root = new URL('../tests/fixtures/target/', import.meta.url).pathname;
const model = `${root}pycode-small`;
const { repeat } = JSON.parse(readFileSync(`${root}data/workloads-dev.json`, 'utf8'));
const prompt: number[] = repeat.prompts[3];
const maxNew = Number(process.env.ARCTICC_MAX_NEW ?? 128);
const device = (process.env.ARCTICC_DEVICE as 'cpu' | 'cuda' | undefined) ?? 'auto';

const tokenizer = await Tokenizer.fromDir(model);
const engine = await loadEngine({
  model, device, maxModelLen: prompt.length + maxNew + 8, maxNumSeqs: 1,
  speculativeConfig: { method: 'arctic', model: `${root}pycode-small-lstm`, num_speculative_tokens: 15, enable_suffix_decoding: true },
});
try {
  console.log(`target: pycode-small (LlamaForCausalLM, ${engine.target.config.numLayers} layers) on ${engine.target.deviceDescription}`);
  console.log(`speculation: ${engine.description}`);
  console.log(`--- prompt (${prompt.length} tokens, last lines):\n${tokenizer.decode(prompt).split('\n').slice(-6).join('\n')}`);
  const plain = await (await attachDrafter(engine.target, null)).engine.generate([prompt], { maxNewTokens: maxNew, stopTokenIds: [] });
  const detok = tokenizer.streamingDetokenizer();
  process.stdout.write('--- continuation:\n');
  const { outputs, metrics } = await engine.engine.generate([prompt], {
    maxNewTokens: maxNew, stopTokenIds: [],
    onTokens: (_, ids) => { for (const id of ids) process.stdout.write(detok.push(id)); },
  });
  process.stdout.write(detok.flush() + '\n---\n');
  const same = outputs[0].tokenIds.join() === plain.outputs[0].tokenIds.join();
  const a = metrics.acceptance;
  console.log(`${metrics.generatedTokens} tokens: ${metrics.tokensPerSecond.toFixed(1)} tok/s with speculation, ${plain.metrics.tokensPerSecond.toFixed(1)} tok/s plain (${(metrics.tokensPerSecond / plain.metrics.tokensPerSecond).toFixed(2)}x); identical tokens: ${same}`);
  const src = Object.entries(metrics.acceptanceBySource).map(([k, m]) => `${k} ${m!.numDrafts} drafts, AL ${m!.meanAcceptanceLength.toFixed(2)}`).join('; ');
  console.log(`mean acceptance length ${a.meanAcceptanceLength.toFixed(3)} over ${a.numDrafts} drafts (${src}); per position ${a.perPositionAcceptanceRate.slice(0, 6).map((x) => x.toFixed(2)).join(' ')}`);
  if (engine.target.device === 'cpu') {
    console.log('(the CPU backend is the reference interpreter: its cost grows with every verified row, so speculation does not pay there; on a GPU a verify pass costs about what a decode step does)');
  }
  if (!same) process.exitCode = 1;
} finally {
  engine.close();
}
