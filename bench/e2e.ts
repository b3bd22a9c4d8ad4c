// End-to-end speculative generation on the real target (tests/fixtures/target): tokens per second by
// workload (code, repeat, mixed) × concurrency × drafter (none, n-gram, suffix, Arctic, Arctic + suffix),
// greedy, with acceptance, draft/verify/host ms per step, and the PyTorch peers of bench/peer_e2e.py from
// the same run beside them. Every drafter's tokens are checked against no speculation: any difference
// (or any error) exits 1. Issue 9's check per row: tok_s_per_request_decode / allowed_tok_s_per_request ≥ 0.9
// (bench/NOTES.md, "Host time per e2e step (issue 9)", says why the decode-step figure is the one to compare).
//   node bench/e2e.ts [--device cuda] [--workloads code,repeat,mixed] [--concurrency 1,8,32] [--max-new 256]
//                     [--prompts 32] [--warmup 32|all] [--peer peer-e2e.json] [--out e2e.json]
//                     [--suffix-updates off|global|all] [--hybrid-bar n_predict|measured]
// --suffix-updates, --hybrid-bar: the engine's DrafterOptions (runtime/engine/load-engine.ts; docs/suffix-overlap.md).
// --warmup N: before each measured row, the same drafter config (a fresh one: nothing it learns carries
// over) generates N tokens for the row's first `concurrency` prompts, untimed, so the JIT has compiled the
// host code and the CUDA graphs of the common buckets are captured (0: no warm-up, as before run 7).
// --warmup all: the row's whole workload once (fresh drafter, untimed): the same greedy tokens and drafts
// again, so the CUDA graphs the row needs are captured before it is timed, as a server that has run a while
// has them (vLLM captures its graphs at startup); the sizer (16+ requests) decides by measured times, so a
// few shapes may still be new: rows report the captures inside them (graphs_captured, capture_ms).
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { COMMON_OPTIONS, drafterConfigs, pickDrafters, workloadPrompts } from './e2e-common.ts';
import { attachDrafter, DEFAULT_HYBRID_BAR, DEFAULT_SUFFIX_UPDATES } from '../runtime/engine/load-engine.ts';
import { DEFER_MODES, type DeferMode } from '../runtime/decoding/suffix-cache.ts';
import { HYBRID_BARS, type HybridBar } from '../runtime/decoding/hybrid-proposer.ts';
import { graphCaptures } from '../runtime/cuda/graph.ts';
import { parseEngineSpeculativeConfig } from '../runtime/engine/speculative-config.ts';
import { loadSpeculator } from '../runtime/speculator.ts';
import { loadTarget } from '../runtime/target/target-model.ts';

const { values: a } = parseArgs({
  options: {
    ...COMMON_OPTIONS,
    load: { type: 'string', default: 'code,repeat,mixed' },
    concurrency: { type: 'string', default: '1,8,32' },
    drafters: { type: 'string', default: 'none,ngram,suffix,arctic,arctic+suffix' },
    'max-new': { type: 'string', default: '256' },
    prompts: { type: 'string' },
    warmup: { type: 'string', default: '32' },
    peer: { type: 'string' },
    out: { type: 'string' },
    'suffix-updates': { type: 'string', default: DEFAULT_SUFFIX_UPDATES },
    'hybrid-bar': { type: 'string', default: DEFAULT_HYBRID_BAR },
    help: { type: 'boolean', short: 'h' },
  },
});
if (a.help) {
  // the usage is this file's header comment
  const head = readFileSync(new URL(import.meta.url), 'utf8').split('\n');
  console.log(head.slice(0, head.findIndex((l) => !l.startsWith('//'))).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
  process.exit(0);
}
const drafterOptions = { suffixUpdates: a['suffix-updates'] as DeferMode, hybridBar: a['hybrid-bar'] as HybridBar };
if (!DEFER_MODES.includes(drafterOptions.suffixUpdates)) throw new Error(`--suffix-updates: one of ${DEFER_MODES.join(', ')}, got ${drafterOptions.suffixUpdates}`);
if (!HYBRID_BARS.includes(drafterOptions.hybridBar)) throw new Error(`--hybrid-bar: one of ${HYBRID_BARS.join(', ')}, got ${drafterOptions.hybridBar}`);
const maxNew = Number(a['max-new']);
const warmupAll = a.warmup === 'all';
const warmup = warmupAll ? maxNew : Number(a.warmup);
if (!(Number.isInteger(warmup) && warmup >= 0)) throw new Error(`--warmup: a token count or "all", got ${a.warmup}`);
const conc = a.concurrency!.split(',').map(Number);
const limit = a.prompts ? Number(a.prompts) : Infinity;
const loads = workloadPrompts(a.workloads!);
const { mixed } = loads;
const CONFIGS = drafterConfigs(a.speculator!);
const drafters = pickDrafters(a.drafters!, CONFIGS);

const longest = Math.max(...mixed.map((p) => p.length));
const target = await loadTarget({ model: a.model!, device: a.device as 'auto', maxModelLen: longest + maxNew + 8, maxNumSeqs: Math.max(...conc), quiet: true });
const speculator = drafters.some((d) => d.startsWith('arctic')) ? await loadSpeculator({ model: a.speculator!, device: target.device, quiet: true, maxBatch: Math.max(...conc) }) : undefined;
console.error(`e2e on ${target.deviceDescription}; ${maxNew} new tokens per request, greedy, EOS ignored`);

const rows: Record<string, unknown>[] = [];
let failures = 0;
for (const [name, all] of Object.entries(loads)) {
  if (!a.load!.split(',').includes(name)) continue;
  const prompts = all.slice(0, limit);
  for (const c of conc) {
    let plain: number[][] | null = null;
    for (const d of drafters) {
      if (warmup > 0) {
        const w = await attachDrafter(target, CONFIGS[d] === null ? null : parseEngineSpeculativeConfig(CONFIGS[d]), speculator, drafterOptions);
        try { await w.engine.generate(warmupAll ? prompts : prompts.slice(0, c), { maxNewTokens: warmup, stopTokenIds: [], maxConcurrency: c }); } finally { w.dispose(); }
      }
      const drafter = await attachDrafter(target, CONFIGS[d] === null ? null : parseEngineSpeculativeConfig(CONFIGS[d]), speculator, drafterOptions);
      const g0 = graphCaptures();
      try {
        const { outputs, metrics } = await drafter.engine.generate(prompts, { maxNewTokens: maxNew, stopTokenIds: [], maxConcurrency: c });
        const toks = outputs.map((o) => o.tokenIds);
        if (plain === null) plain = toks;
        const same = JSON.stringify(toks) === JSON.stringify(plain);
        if (!same) { failures++; console.error(`MISMATCH: ${d} on ${name} at concurrency ${c} differs from no speculation`); }
        const al = d === 'none' ? 1 : metrics.acceptance.meanAcceptanceLength;
        const stepMs = metrics.draftMsPerStep + metrics.verifyMsPerStep;
        const row = {
          workload: name, concurrency: c, drafter: d, prompts: prompts.length, warmup_tokens: warmup, warmup_prompts: warmup > 0 ? (warmupAll ? prompts.length : Math.min(c, prompts.length)) : 0, identical_to_none: same,
          tok_s_per_request: outputs.reduce((s, o) => s + o.tokenIds.length / (o.ms / 1000), 0) / outputs.length,
          tok_s_total: metrics.tokensPerSecond, tok_s_steady: metrics.steadyTokensPerSecond, mean_acceptance_length: al,
          per_position_acceptance: metrics.acceptance.perPositionAcceptanceRate,
          by_source: Object.fromEntries(Object.entries(metrics.acceptanceBySource).map(([k, m]) => [k, { drafts: m!.numDrafts, mean_acceptance_length: m!.meanAcceptanceLength }])),
          steps: metrics.steps, prefill_steps: metrics.prefillSteps, prefill_ms: metrics.prefillMs, draft_ms_per_step: metrics.draftMsPerStep, verify_ms_per_step: metrics.verifyMsPerStep, host_ms_per_step: metrics.hostMsPerStep,
          // tokens per second per request that its acceptance and decode-step times allow (prefill excluded)
          allowed_tok_s_per_request: (al * 1000) / stepMs,
          // the same decode steps as measured: the tokens of the decode steps each request ran in over their
          // wall time (host and the loop between steps included; prefill steps, its own and those of requests
          // admitted while it ran, excluded: tok_s_per_request above has them, `allowed` does not), pooled over
          // requests as `allowed` pools acceptance (a mean of per-request rates weighs short, high-AL requests up)
          tok_s_per_request_decode: outputs.reduce((s, o) => s + o.decodeTokens, 0) / (outputs.reduce((s, o) => s + o.decodeMs, 0) / 1000),
          loop_ms_per_step: metrics.loopMsPerStep,
          // host↔device syncs per decode step (stream waits on CUDA; target and draft passes on the CPU)
          syncs_per_step: metrics.syncsPerStep,
          // acceptance length over every request-step (a step without a draft counts 1), and what it allows
          tokens_per_request_step: d === 'none' ? 1 : metrics.tokensPerRequestStep,
          allowed_tok_s_per_request_all_steps: ((d === 'none' ? 1 : metrics.tokensPerRequestStep) * 1000) / stepMs,
          // CUDA graphs captured during the row (first steps at new buckets) and the host ms that took
          graphs_captured: graphCaptures().count - g0.count, capture_ms: graphCaptures().ms - g0.ms,
          suffix_updates: drafterOptions.suffixUpdates, hybrid_bar: drafterOptions.hybridBar,
          // the per-step sizer (CUDA default): pass ms by rows, gain by batch, steps it skipped, caps it chose
          ...(metrics.sizer ? { sizer: metrics.sizer } : {}),
        };
        rows.push(row);
        console.error(JSON.stringify(row));
      } catch (e) {
        failures++;
        console.error(`ERROR: ${d} on ${name} at concurrency ${c}: ${(e as Error).stack}`);
      } finally {
        drafter.dispose();
      }
    }
  }
}
speculator?.close();
target.close();

let peer = null;
if (a.peer) {
  try { peer = JSON.parse(readFileSync(a.peer, 'utf8')); } catch (e) { failures++; console.error(`ERROR: the peer results ${a.peer} could not be read: ${(e as Error).message}`); }
}
const result = { device: target.deviceDescription, max_new: maxNew, rows, peer, failures };
if (a.out) writeFileSync(a.out, JSON.stringify(result, null, 1));

const f = (x: unknown, d = 0): string => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(d) : '—');
const peerRow = (p: string, wl: string, c: number) => peer?.rows.find((r: { peer: string; workload: string; concurrency: number }) => r.peer === p && r.workload === wl && r.concurrency === c);
console.log(`\n| workload | conc | ${drafters.join(' | ')} | HF plain | HF prompt lookup | torch graph loop |`);
// per request tok/s at concurrency 1; steady-state total tok/s (all slots busy) at higher concurrency
console.log(`|${' --- |'.repeat(drafters.length + 5)}`);
for (const name of Object.keys(loads)) for (const c of conc) {
  const cells = drafters.map((d) => {
    const r = rows.find((x) => x.workload === name && x.concurrency === c && x.drafter === d) as Record<string, number> | undefined;
    if (!r) return '—';
    return `${f(c === 1 ? r.tok_s_per_request : r.tok_s_steady)}${d === 'none' ? '' : ` (AL ${f(r.mean_acceptance_length, 2)})`}`;
  });
  if (cells.every((x) => x === '—')) continue;
  const p = (n: string) => f(c === 1 ? peerRow(n, name, c)?.tok_s_per_request : peerRow(n, name, c)?.tok_s_total);
  console.log(`| ${name} | ${c} | ${cells.join(' | ')} | ${c === 1 ? p('hf-plain') : '—'} | ${c === 1 ? p('hf-prompt-lookup') : '—'} | ${p('torch-graph')} |`);
}
console.log('\nconcurrency 1: tok/s per request (mean over requests); higher concurrency: total tok/s while every slot is busy (peers: total over the run). AL = mean acceptance length. Per-request and whole-run figures, acceptance per position and step times are in the JSON.');
if (failures > 0) { console.error(`${failures} failure(s)`); process.exit(1); }
