// arcticc train --target DIR --arch lstm|mlp|FILE.ts (--prompts FILE.u16 | --data FILE.jsonl) --out DIR [options]
import { gemmMode } from '../../compiler/codegen/ptx/kernel-gemm.ts';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { loadTarget } from '../../runtime/target/target-model.ts';
import { resolveArch } from '../../runtime/train/arch.ts';
import type { TrainData } from '../../runtime/train/data.ts';
import { GEN_LEN, generateData, loadData, readPromptsJsonl, readPromptsU16, saveDataInBackground, TrainDataError } from '../../runtime/train/data.ts';
import { readCheckpoint, train } from '../../runtime/train/trainer.ts';
import { selectDevice } from '../../runtime/select-device.ts';
import type { Command, CommandContext } from './shared.ts';
import { InputError, parseOptions, printJson, UsageError } from './shared.ts';

const usage = `usage: arcticc train --target DIR --arch lstm|mlp|FILE.ts (--prompts FILE.u16 | --data FILE.jsonl) --out DIR [options]

Train a draft model for a target by self-distillation (ArcticTraining's recipe): the target continues each
64-token prompt with 256 tokens (temperature 1, top-k 10), its final-norm hidden states are recorded, and the
drafter is trained teacher-forced on them (loss = sum over heads of cross-entropy; AdamW lr 1e-3, betas
0.9/0.999, weight decay 0.1, cosine with 5 % warm-up, gradients clipped to norm 1), with gradients from the
compiler's own autodiff. The result in --out is a checkpoint loadSpeculator (and ArcticInference) loads.

options:
  --target DIR           a Hugging Face Llama folder (config.json, model.safetensors, tokenizer.json for --data)
  --arch A               lstm | mlp | a DSL drafter file (FILE.ts)
  --prompts FILE.u16     rows of 64 little-endian uint16 token ids
  --data FILE.jsonl      text ({"text": ...} per line), tokenized and cut into non-overlapping 64-token chunks
  --out DIR              the export (config.json + model.safetensors), checkpoint/ and the data cache data/
  --steps N              optimizer steps (default 1000)
  --batch B              sequences per step (default 16; rows = B × positions per sequence)
  --lr X                 peak learning rate (default 1e-3)
  --width D              drafter width (default: the target's hidden size)
  --n-predict N          draft tokens per proposal (default 3)
  --num-prompts N        use the first N prompts (default: all)
  --gen-len N            tokens the target generates per prompt (default 256)
  --temperature T        data generation temperature (default 1, with top-k 10; 0 = the target's greedy text)
  --labels L             what each head learns: sampled (default, the generated token, ArcticTraining's
                         recipe) | greedy (the target's argmax at that position, what a greedy verifier
                         accepts; recorded with the data, no extra cost)
  --checkpoint-every N   write checkpoint/ every N steps (default: steps/10)
  --resume DIR           continue a run from DIR (or DIR/checkpoint), bit for bit
  --data-cache DIR       where generated data is cached (default OUT/data)
  --seed S               weights, data order and sampling seed (default 0)
  --device D             cpu | cuda | auto (default auto)
  --max-num-seqs N       target KV slots for data generation (default 64)
  --stop-after N         stop after step N with a checkpoint and no export (as an interrupted run)
  --gemm M               CUDA matmul arithmetic: tf32x3 (default: tensor cores, f32-accurate) | fma (f32
                         FMAs on the CUDA cores) | tf32 (one tf32 term per product, like PyTorch's
                         allow_tf32; the fastest, ~1e-3 relative gradients)
  --json                 print {"losses", "loss_heads", "timings", "rows_per_second", ...} at the end

exit codes: 0 trained; 1 bad input (ids outside the vocabulary, a corrupt or empty data file, a width or
n-predict the architecture cannot take, a resume folder from another architecture or target); 2 usage.

example:
  arcticc train --target tests/fixtures/target/pycode-small --arch lstm \\
    --prompts tests/fixtures/target/data/train-prompts.u16 --out build/pycode-lstm --steps 2000 --batch 32
`;

const int = (min = 1) => z.coerce.number().int().min(min);
const Options = z.object({
  target: z.string({ error: 'is required (a target model folder)' }),
  arch: z.string({ error: 'is required (lstm, mlp or FILE.ts)' }),
  prompts: z.string().optional(),
  data: z.string().optional(),
  out: z.string({ error: 'is required (the output folder)' }),
  steps: int().default(1000),
  batch: int().default(16),
  lr: z.coerce.number().positive().default(1e-3),
  width: z.coerce.number().optional(),
  'n-predict': z.coerce.number().default(3),
  'num-prompts': int().optional(),
  'gen-len': int().default(GEN_LEN),
  temperature: z.coerce.number().min(0).default(1),
  labels: z.enum(['sampled', 'greedy']).default('sampled'),
  'checkpoint-every': int().optional(),
  resume: z.string().optional(),
  'data-cache': z.string().optional(),
  seed: int(0).default(0),
  device: z.enum(['cpu', 'cuda', 'auto']).default('auto'),
  'max-num-seqs': int().default(64),
  'stop-after': int().optional(),
  gemm: z.enum(['fma', 'tf32x3', 'tf32']).optional(),
  json: z.boolean().default(false),
});

const fmtEta = (ms: number): string => (ms < 60_000 ? `${(ms / 1000).toFixed(0)}s` : `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s`);

async function run(argv: string[], ctx: CommandContext): Promise<void> {
  const s = { type: 'string' } as const;
  const { values: o } = parseOptions('train', argv, {
    target: s, arch: s, prompts: s, data: s, out: s, steps: s, batch: s, lr: s, width: s, 'n-predict': s, 'num-prompts': s,
    'gen-len': s, temperature: s, labels: s, 'checkpoint-every': s, resume: s, 'data-cache': s, seed: s, device: s, 'max-num-seqs': s, 'stop-after': s, gemm: s,
  }, Options);
  if ((o.prompts === undefined) === (o.data === undefined)) throw new UsageError('train: give exactly one of --prompts FILE.u16 or --data FILE.jsonl');
  const tAll = performance.now();
  // everything that can be checked before the target runs: config, prompts, arch, resume folder
  const cfgFile = path.join(o.target, 'config.json');
  let cfg: { hidden_size?: number; vocab_size?: number };
  try { cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8')); } catch (e) { throw new InputError(`${cfgFile}: cannot read the target's config (${(e as Error).message})`); }
  const H = cfg.hidden_size, V = cfg.vocab_size;
  if (!Number.isInteger(H) || !Number.isInteger(V)) throw new InputError(`${cfgFile}: needs integer hidden_size and vocab_size`);
  let prompts: number[][];
  try {
    if (o.prompts) prompts = readPromptsU16(o.prompts, V!);
    else {
      const { Tokenizer } = await import('../../runtime/tokenizer/index.ts');
      const tok = await Tokenizer.fromDir(o.target);
      prompts = readPromptsJsonl(o.data!, (t) => tok.encode(t), V!);
    }
    if (o['num-prompts']) prompts = prompts.slice(0, o['num-prompts']);
    const arch = await resolveArch({ arch: o.arch, hiddenSize: H!, vocabSize: V!, width: o.width ?? H!, nPredict: o['n-predict'], target: o.target });
    const targetId = { name: path.basename(path.resolve(o.target)), hidden_size: H!, vocab_size: V! };
    if (o.resume) readCheckpoint(o.resume, { arch: arch.id, target: targetId, config: arch.config });
    const device = (await selectDevice(o.device)).device;
    // data: from the cache, or generated by the target now
    const cacheDir = o['data-cache'] ?? path.join(o.out, 'data');
    const key = { target: path.resolve(o.target), prompts: path.resolve(o.prompts ?? o.data!), count: prompts.length, genLen: o['gen-len'], seed: o.seed, temperature: o.temperature, topK: 10, format: 2 };
    const tData = performance.now();
    let data: TrainData | undefined = loadData(cacheDir, key);
    const cached = data !== undefined;
    let saving: Promise<void> = Promise.resolve();
    if (!data) {
      const target = await loadTarget({ model: o.target, device, maxModelLen: 64 + o['gen-len'], maxNumSeqs: o['max-num-seqs'], maxBatchTokens: 8192, quiet: o.json });
      try {
        const gen = await generateData(target, {
          prompts, genLen: o['gen-len'], seed: o.seed, temperature: o.temperature,
          onProgress: (d, n) => ctx.progress?.(`data: ${d}/${n} sequences generated`),
        });
        data = { ...gen, key };
      } finally { target.close(); }
      // written while training runs (the hidden states of 16k sequences are 2.7 GB)
      saving = saveDataInBackground(cacheDir, data);
      saving.catch(() => undefined);
    }
    const dataMs = performance.now() - tData;
    let firstStep = -1;
    const res = await train({
      arch, data, target: targetId, out: o.out, steps: o.steps, batch: o.batch, lr: o.lr, seed: o.seed,
      checkpointEvery: o['checkpoint-every'], resume: o.resume, device, stopAfter: o['stop-after'], labels: o.labels, ...(o.gemm ? { gemm: o.gemm } : {}),
      onStep: (r) => {
        if (firstStep < 0) firstStep = r.step - 1;
        ctx.progress?.(`step ${r.step}/${r.steps}  loss ${r.loss.toFixed(3)} [${r.lossHeads.map((x) => x.toFixed(2)).join(' ')}]  lr ${r.lr.toExponential(2)}  ${r.rowsPerSecond.toFixed(0)} tok/s  ETA ${fmtEta((r.elapsedMs / (r.step - firstStep)) * (r.steps - r.step))}`);
      },
    }).catch(async (e: unknown) => { await saving.catch(() => undefined); throw e; });
    await saving;
    ctx.progress?.(null);
    const totalMs = performance.now() - tAll;
    const summary = {
      out: o.out, arch: arch.id, device, steps: res.steps, resumed_from: res.startStep, rows_per_step: o.batch * (data.seqLen - o['n-predict'] - data.promptLen),
      sequences: data.count, data_cached: cached, losses: res.losses, loss_heads: res.lossHeads,
      first_loss: res.losses[0] ?? null, final_loss: res.losses[res.losses.length - 1] ?? null,
      labels: o.labels, temperature: o.temperature, gemm: device === 'cuda' ? o.gemm ?? gemmMode() : null,
      rows_per_second: res.rowsPerSecond, timings: { data_ms: dataMs, train_ms: res.trainMs, total_ms: totalMs, fill_ms: res.split.fillMs, wait_ms: res.split.waitMs, checkpoint_ms: res.split.checkpointMs },
    };
    if (o.json) { printJson(ctx, summary); return; }
    ctx.out(`trained ${arch.id} for ${res.steps - res.startStep} steps on ${device}: loss ${summary.first_loss?.toFixed(3)} → ${summary.final_loss?.toFixed(3)}, ${res.rowsPerSecond.toFixed(0)} tokens/s`);
    ctx.out(`time: data ${(dataMs / 1000).toFixed(1)} s${cached ? ' (cached)' : ''}, training ${(res.trainMs / 1000).toFixed(1)} s, total ${(totalMs / 1000).toFixed(1)} s; export in ${o.out}`);
  } catch (e) {
    if (e instanceof TrainDataError) throw new InputError(`train: ${e.message}`);
    throw e;
  }
}

export const command: Command = { usage, run };
