// Times loadCheckpoint on a checkpoint folder (e.g. one from bench/make-checkpoint.ts).
// Usage: node bench/load-checkpoint.ts DIR [--runs 2] [--json]
// GB/s = weight-file bytes / wall time of the whole load (config, headers, mapping, reads, LSTM fusing).
import { parseArgs } from 'node:util';
import { loadCheckpoint } from '../runtime/checkpoint/index.ts';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { runs: { type: 'string', default: '2' }, json: { type: 'boolean', default: false } },
});
if (positionals.length !== 1) {
  console.error('usage: node bench/load-checkpoint.ts DIR [--runs 2] [--json]');
  process.exit(2);
}
const dir = positionals[0];
const runs: { seconds: number; gbPerSec: number; rssGB: number }[] = [];
let bytes = 0;
let params = 0;
// In a function so the weights are unreachable once it returns (a top-level binding would pin them).
function timeLoad(): { seconds: number; bytes: number; params: number; rssGB: number } {
  const t0 = performance.now();
  const c = loadCheckpoint(dir, { quiet: values.json });
  const seconds = (performance.now() - t0) / 1000;
  return { seconds, bytes: c.bytes, params: c.weights.size, rssGB: process.memoryUsage().rss / 1e9 };
}
for (let i = 0; i < Number(values.runs); i++) {
  if (i > 0 && globalThis.gc !== undefined) {
    // With --expose-gc: drop the previous run's weights and give V8's background sweeper time to unmap them.
    globalThis.gc();
    await new Promise((r) => setTimeout(r, 500));
  }
  const r = timeLoad();
  bytes = r.bytes;
  params = r.params;
  runs.push({ seconds: r.seconds, gbPerSec: bytes / 1e9 / r.seconds, rssGB: r.rssGB });
}
const best = Math.max(...runs.map((r) => r.gbPerSec));
if (values.json) {
  console.log(JSON.stringify({ dir, bytes, params, runs, bestGbPerSec: best }));
} else {
  console.log(`${dir}: ${(bytes / 1e9).toFixed(2)} GB, ${params} parameters`);
  runs.forEach((r, i) => console.log(`  run ${i + 1}: ${r.seconds.toFixed(2)} s, ${r.gbPerSec.toFixed(2)} GB/s, rss ${r.rssGB.toFixed(2)} GB`));
}
