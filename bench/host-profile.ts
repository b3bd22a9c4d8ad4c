// Where the host time of an end-to-end speculative step goes, measured on the CPU backend (issue 9). A
// device stand-in runs the target (and the Arctic speculator): by default the replay of each prompt's greedy
// continuation, recorded once with the interpreter (bench/replay-stand-in.ts: exact under greedy, costs
// ~nothing, or a busy-wait of --pass-ms + --pass-ms-per-row × rows to mimic a device); with --stand-in interp
// the interpreter itself (its garbage collection then lands in the host's share). The stand-in's time is
// taken out, and what is left is what the CUDA path also pays on the host. Each decode step (one that
// prefilled nothing) is split into:
//   propose host   drafting minus the speculator's interpreter time (suffix / n-gram speculation, packing rows)
//   forward host   target.forward minus the backend's run (validation, packing rows, splitting outputs)
//   proposer upd.  proposer.onTokens / startRequest / stopRequest (suffix tree updates)
//   step rest      the rest of EngineCore.step (acceptance, appends, KV bookkeeping, metrics, draft sizing)
//   between steps  the loop between two steps (setImmediate, promise plumbing)
// Prefill steps are left out (their time is reported apart). Outputs are checked identical to no speculation.
//   node bench/host-profile.ts [--concurrency 1,8] [--drafters none,ngram,suffix,arctic,arctic+suffix]
//                              [--prompts 16] [--max-new 256] [--load code] [--stand-in replay|interp]
//                              [--pass-ms 0] [--pass-ms-per-row 0] [--draft-ms 0] [--record greedy.json]
//                              [--repeat 1] [--dynamic] [--out host-profile.json]
// --dynamic: per-step draft sizing on (dynamic_draft_length: true, the default on CUDA; off on the CPU).
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { COMMON_OPTIONS, drafterConfigs, pickDrafters, workloadPrompts } from './e2e-common.ts';
import { attachDrafter } from '../runtime/engine/load-engine.ts';
import { EngineCore } from '../runtime/engine/scheduler.ts';
import { parseEngineSpeculativeConfig } from '../runtime/engine/speculative-config.ts';
import type { Speculator } from '../runtime/speculator.ts';
import { loadSpeculator } from '../runtime/speculator.ts';
import { recordGreedy, replayDraftModel, replayTarget } from './replay-stand-in.ts';
import { loadTarget, targetBackend } from '../runtime/target/target-model.ts';

const { values: a } = parseArgs({
  options: {
    ...COMMON_OPTIONS,
    load: { type: 'string', default: 'code' },
    concurrency: { type: 'string', default: '1,8' },
    drafters: { type: 'string', default: 'none,ngram,suffix,arctic,arctic+suffix' },
    'max-new': { type: 'string', default: '256' },
    prompts: { type: 'string', default: '16' },
    'stand-in': { type: 'string', default: 'replay' },
    dynamic: { type: 'boolean', default: false },
    'pass-ms': { type: 'string', default: '0' },
    'pass-ms-per-row': { type: 'string', default: '0' },
    'draft-ms': { type: 'string', default: '0' },
    record: { type: 'string' },
    repeat: { type: 'string', default: '1' },
    out: { type: 'string' },
  },
});
const maxNew = Number(a['max-new']);
const conc = a.concurrency!.split(',').map(Number);
const loads = workloadPrompts(a.workloads!);
const CONFIGS = Object.fromEntries(Object.entries(drafterConfigs(a.speculator!)).map(([k, c]) => [k, c && a.dynamic ? { ...c, dynamic_draft_length: true } : c]));
const drafters = pickDrafters(a.drafters!, CONFIGS);
const longest = Math.max(...loads.mixed.map((p) => p.length));
const target = await loadTarget({ model: a.model!, device: 'cpu', maxModelLen: longest + maxNew + 8, maxNumSeqs: Math.max(...conc), quiet: true });
const replay = a['stand-in'] === 'replay';
if (!replay && a['stand-in'] !== 'interp') throw new Error(`--stand-in: replay or interp, got ${a['stand-in']}`);
const timing = { passMs: Number(a['pass-ms']), passMsPerRow: Number(a['pass-ms-per-row']), draftMs: Number(a['draft-ms']) };
if (replay) {
  const used = Object.entries(loads).filter(([n]) => a.load!.split(',').includes(n)).flatMap(([, all]) => all.slice(0, Number(a.prompts)));
  const uniq = [...new Map(used.map((p) => [p.join(','), p])).values()];
  console.error(`recording the greedy continuations of ${uniq.length} prompts with the interpreter${a.record ? ` (cached in ${a.record})` : ''}…`);
  const outs = await recordGreedy(target, uniq, maxNew, a.record);
  replayTarget(target, uniq, outs, timing);
}
const speculator = replay ? (replayDraftModel(target, 3, 0.45, timing) as unknown as Speculator) : await loadSpeculator({ model: a.speculator!, device: 'cpu', quiet: true, maxBatch: Math.max(...conc) });

// the device stand-ins: the target backend's run and the speculator's propose
const acc = { interp: 0, specInterp: 0, update: 0, stepWall: 0, inStep: false, forwardWall: 0 };
const backend = targetBackend(target);
const run0 = backend.run.bind(backend);
backend.run = async (x, o) => { const t0 = performance.now(); try { return await run0(x, o); } finally { acc.interp += performance.now() - t0; } };
const prop0 = speculator.propose.bind(speculator);
speculator.propose = async (r) => { const t0 = performance.now(); try { return await prop0(r); } finally { acc.specInterp += performance.now() - t0; } };
const fwd0 = target.forward.bind(target);
target.forward = async (items, o) => { const t0 = performance.now(); try { return await fwd0(items, o); } finally { acc.forwardWall += performance.now() - t0; } };

// per decode step: the same split the engine makes (draft, verify, host) plus the finer one above
interface Split { steps: number; draft: number; verify: number; host: number; specInterp: number; interp: number; forwardHost: number; update: number; between: number; wall: number; prefillSteps: number; prefillMs: number; rows: number; tokens: number }
const step0 = EngineCore.prototype.step;

const rows: Record<string, unknown>[] = [];
let failures = 0;
for (const [name, all] of Object.entries(loads)) {
  if (!a.load!.split(',').includes(name)) continue;
  const prompts = all.slice(0, Number(a.prompts));
  for (const c of conc) {
    let plain: number[][] | null = null;
    for (const d of drafters) for (let rep = 0; rep < Number(a.repeat); rep++) {
      const drafter = await attachDrafter(target, CONFIGS[d] === null ? null : parseEngineSpeculativeConfig(CONFIGS[d]), speculator);
      const p = drafter.engine.proposer;
      if (p) for (const m of ['onTokens', 'startRequest', 'stopRequest'] as const) {
        const f = (p[m] as (...x: unknown[]) => void).bind(p);
        (p as unknown as Record<string, unknown>)[m] = (...x: unknown[]) => { const t0 = performance.now(); try { f(...x); } finally { acc.update += performance.now() - t0; } };
      }
      const s: Split = { steps: 0, draft: 0, verify: 0, host: 0, specInterp: 0, interp: 0, forwardHost: 0, update: 0, between: 0, wall: 0, prefillSteps: 0, prefillMs: 0, rows: 0, tokens: 0 };
      let lastEnd = -1;
      EngineCore.prototype.step = async function (this: EngineCore) {
        const before = { ...this.times }, b = { ...acc };
        const t0 = performance.now();
        const running = this.numRunning;
        await step0.call(this);
        const t1 = performance.now();
        const tm = this.times;
        if (tm.prefillSteps === before.prefillSteps && tm.steps > before.steps) {
          s.steps++; s.rows += running;
          s.draft += tm.draftMs - before.draftMs; s.verify += tm.verifyMs - before.verifyMs; s.host += tm.hostMs - before.hostMs;
          s.specInterp += acc.specInterp - b.specInterp; s.interp += acc.interp - b.interp;
          s.forwardHost += (acc.forwardWall - b.forwardWall) - (acc.interp - b.interp);
          s.update += acc.update - b.update;
          s.wall += t1 - t0;
          s.tokens += tm.decodeTokens - before.decodeTokens;
          if (lastEnd >= 0) s.between += t0 - lastEnd;
        } else if (tm.prefillSteps > before.prefillSteps) { s.prefillSteps++; s.prefillMs += t1 - t0; }
        lastEnd = t1;
      };
      try {
        const { outputs, metrics } = await drafter.engine.generate(prompts, { maxNewTokens: maxNew, stopTokenIds: [], maxConcurrency: c });
        const toks = outputs.map((o) => o.tokenIds);
        if (plain === null) plain = toks;
        if (JSON.stringify(toks) !== JSON.stringify(plain)) { failures++; console.error(`MISMATCH: ${d} on ${name} at concurrency ${c}`); }
        const per = (x: number) => x / s.steps;
        const row = {
          workload: name, concurrency: c, drafter: d, repeat: rep, steps: s.steps, mean_running: s.rows / s.steps,
          // what the engine reports (ms per decode step)
          draft_ms: per(s.draft), verify_ms: per(s.verify), host_ms: per(s.host),
          // the device stand-ins
          interp_target_ms: per(s.interp), interp_draft_ms: per(s.specInterp),
          // host work on the CUDA path as well
          propose_host_ms: per(s.draft - s.specInterp), forward_host_ms: per(s.forwardHost), proposer_update_ms: per(s.update),
          step_rest_ms: per(s.host - s.update), between_steps_ms: s.steps > 1 ? s.between / (s.steps - 1) : NaN,
          host_total_ms: per(s.draft - s.specInterp + s.forwardHost + s.host) + (s.steps > 1 ? s.between / (s.steps - 1) : 0),
          prefill_steps: s.prefillSteps, prefill_ms: s.prefillMs,
          // issue 9's comparison (meaningful with a simulated device time: --pass-ms, --draft-ms)
          mean_acceptance_length: d === 'none' ? 1 : metrics.acceptance.meanAcceptanceLength,
          allowed_tok_s_per_request: ((d === 'none' ? 1 : metrics.acceptance.meanAcceptanceLength) * 1000) / per(s.draft + s.verify),
          tok_s_per_request_decode: (outputs as { decodeTokens?: number }[]).reduce((x, o) => x + (o.decodeTokens ?? NaN), 0) / ((outputs as { decodeMs?: number }[]).reduce((x, o) => x + (o.decodeMs ?? NaN), 0) / 1000),
          tokens_per_request_step: (metrics as { tokensPerRequestStep?: number }).tokensPerRequestStep,
          // every request's decode tokens over the decode steps' wall time (loop between steps included)
          tok_s_total_decode: (s.tokens * 1000) / (s.wall + s.between),
        };
        rows.push(row);
        const f = (x: number) => (x * 1000).toFixed(1).padStart(7);
        console.log(`${name} c=${c} ${d.padEnd(14)} #${rep} steps ${String(s.steps).padStart(4)}  µs/step: propose ${f(row.propose_host_ms)} forward ${f(row.forward_host_ms)} update ${f(row.proposer_update_ms)} rest ${f(row.step_rest_ms)} between ${f(row.between_steps_ms)} | host total ${f(row.host_total_ms)} | interp target ${f(row.interp_target_ms)} draft ${f(row.interp_draft_ms)} | AL ${row.mean_acceptance_length.toFixed(2)} tok/req-step ${row.tokens_per_request_step?.toFixed(2)} decode/allowed ${(row.tok_s_per_request_decode / row.allowed_tok_s_per_request).toFixed(3)} | total ${row.tok_s_total_decode.toFixed(0)} tok/s`);
      } finally {
        EngineCore.prototype.step = step0;
        drafter.dispose();
      }
    }
  }
}
speculator.close();
target.close();
if (a.out) writeFileSync(a.out, JSON.stringify({ max_new: maxNew, prompts: Number(a.prompts), rows }, null, 1));
if (failures > 0) { console.error(`${failures} failure(s)`); process.exit(1); }
