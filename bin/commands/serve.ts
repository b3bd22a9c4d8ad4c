// arcticc serve --model DIR [--speculative-config JSON] [--host 127.0.0.1] [--port 8000] [--max-model-len N]
//   [--max-num-seqs N] [--api-key KEY] [--device cpu|cuda|auto] [--served-model-name NAME] [--quantize none|fp8]
//   [--activations f32|bf16] [--suffix-updates off|global|all] [--hybrid-bar measured|n_predict]
import { z } from 'zod';
import { ACTIVATION_MODES } from '../../models/llama.ts';
import { DEFAULT_HYBRID_BAR, DEFAULT_SUFFIX_UPDATES, loadEngine } from '../../runtime/engine/load-engine.ts';
import { DEFER_MODES } from '../../runtime/decoding/suffix-cache.ts';
import { HYBRID_BARS } from '../../runtime/decoding/hybrid-proposer.ts';
import { startServer } from '../../runtime/serve/index.ts';
import { TARGET_QUANTIZE_MODES } from '../../runtime/target/quantize-target.ts';
import { Tokenizer } from '../../runtime/tokenizer/index.ts';
import { VERSION } from '../../compiler/version.ts';
import type { Command, CommandContext } from './shared.ts';
import { parseOptions } from './shared.ts';

const usage = `usage: arcticc serve --model DIR [options]

An OpenAI-compatible server (vLLM's routes and wire format) with speculative decoding and continuous batching:
POST /v1/completions, /v1/chat/completions (models with a chat template), /tokenize, /detokenize;
GET /v1/models, /health, /version, /metrics (Prometheus, vLLM's metric names).

options:
  --model DIR               a Hugging Face LlamaForCausalLM folder with tokenizer.json
  --speculative-config J    as vLLM takes it, e.g. '{"method": "arctic", "model": "DIR", "enable_suffix_decoding": true}'
  --host H                  address to bind (default 127.0.0.1; 0.0.0.0 exposes it to the network)
  --port P                  (default 8000; 0 picks a free port)
  --max-model-len N         positions per request, prompt + output (default: max_position_embeddings)
  --max-num-seqs N          requests running at once = KV-cache slots (default 16)
  --max-queue-len N         requests waiting for a slot before new ones get 503 (default 4 × max-num-seqs)
  --api-key KEY             require "Authorization: Bearer KEY" on /v1 routes (or set ARCTICC_API_KEY)
  --device D                cpu | cuda | auto (default auto)
  --quantize Q              target weights: none (as in the checkpoint; default) | fp8 (projections and an
                            untied LM head in e4m3 with per-row f32 scales, quantized while loading)
  --activations A           projection inputs: f32 (default; exact against fp32 references) | bf16 (rounded
                            to bf16 as bf16 PyTorch and vLLM models compute; faster from 5 rows), for
                            the target and an Arctic drafter alike
  --suffix-updates M        off | global (default) | all: suffix tree updates run while the next target pass
                            is on the device (docs/suffix-overlap.md); outputs never change, drafts may
  --hybrid-bar B            measured (default) | n_predict (ArcticInference's): the score an Arctic + suffix
                            step needs to take the suffix draft over the model's
  --served-model-name NAME  the model id clients send (default: the --model path)
  --max-body-bytes N        request body limit (default 4194304)

SIGTERM or SIGINT drains: new requests get 503, running ones finish, then the server exits.

exit codes: 0 drained and stopped after SIGTERM/SIGINT; 1 bad input (missing or unsupported model, bad
speculative config, address in use); 2 usage (unknown option, bad option value).

example:
  arcticc serve --model tests/fixtures/target/pycode-small --device cpu --max-model-len 256 \
    --speculative-config '{"method": "arctic", "model": "tests/fixtures/target/pycode-small-lstm", "enable_suffix_decoding": true}'
`;

const Options = z.object({
  model: z.string({ error: 'is required (a model folder)' }),
  'speculative-config': z.string().optional(),
  host: z.string().min(1).default('127.0.0.1'),
  port: z.coerce.number().int().min(0).max(65535).default(8000),
  'max-model-len': z.coerce.number().int().min(2).optional(),
  'max-num-seqs': z.coerce.number().int().positive().default(16),
  'max-queue-len': z.coerce.number().int().min(0).optional(),
  'api-key': z.string().min(1).optional(),
  device: z.enum(['cpu', 'cuda', 'auto']).default('auto'),
  quantize: z.enum(TARGET_QUANTIZE_MODES).default('none'),
  activations: z.enum(ACTIVATION_MODES).default('f32'),
  'suffix-updates': z.enum(DEFER_MODES).default(DEFAULT_SUFFIX_UPDATES),
  'hybrid-bar': z.enum(HYBRID_BARS).default(DEFAULT_HYBRID_BAR),
  'served-model-name': z.string().min(1).optional(),
  'max-body-bytes': z.coerce.number().int().positive().optional(),
});

async function run(argv: string[], ctx: CommandContext): Promise<void> {
  const { values: o } = parseOptions('serve', argv, {
    model: { type: 'string', short: 'm' }, 'speculative-config': { type: 'string' }, host: { type: 'string' }, port: { type: 'string' },
    'max-model-len': { type: 'string' }, 'max-num-seqs': { type: 'string' }, 'max-queue-len': { type: 'string' }, 'api-key': { type: 'string' },
    device: { type: 'string' }, 'served-model-name': { type: 'string' }, 'max-body-bytes': { type: 'string' }, quantize: { type: 'string' },
    activations: { type: 'string' }, 'suffix-updates': { type: 'string' }, 'hybrid-bar': { type: 'string' },
  }, Options);
  const tokenizer = await Tokenizer.fromDir(o.model);
  const engine = await loadEngine({
    model: o.model, device: o.device, maxModelLen: o['max-model-len'], maxNumSeqs: o['max-num-seqs'], quantize: o.quantize, activations: o.activations, quiet: true,
    suffixUpdates: o['suffix-updates'], hybridBar: o['hybrid-bar'],
    speculativeConfig: o['speculative-config'],
  });
  let server;
  try {
    server = await startServer({
      engine: engine.engine, tokenizer, modelPath: o.model, modelName: o['served-model-name'], host: o.host, port: o.port,
      maxNumSeqs: o['max-num-seqs'], maxQueueLen: o['max-queue-len'], apiKey: o['api-key'] ?? process.env.ARCTICC_API_KEY ?? null,
      maxBodyBytes: o['max-body-bytes'], version: VERSION,
    });
  } catch (e) {
    engine.close();
    throw e;
  }
  const t = engine.target;
  ctx.err(`arcticc serve: ${server.context.modelName} on ${t.deviceDescription}; speculation: ${engine.description}; max-model-len ${t.maxModelLen}, max-num-seqs ${t.maxNumSeqs}`);
  ctx.err(`arcticc serve: listening on ${server.url}${server.context.chat ? '' : ' (no chat template: /v1/chat/completions answers 400)'}`);
  await new Promise<void>((resolve) => {
    const onSignal = (sig: string) => {
      ctx.err(`arcticc serve: ${sig}: draining ${server.core.numRunning} running and ${server.core.numWaiting} waiting requests`);
      process.off('SIGTERM', onTerm); process.off('SIGINT', onInt);
      // a second signal stops at once
      const hard = () => { void server.close(); };
      process.once('SIGTERM', hard); process.once('SIGINT', hard);
      void server.shutdown().then(resolve);
    };
    const onTerm = () => onSignal('SIGTERM'), onInt = () => onSignal('SIGINT');
    process.on('SIGTERM', onTerm); process.on('SIGINT', onInt);
  });
  engine.close();
  ctx.err('arcticc serve: stopped');
}

export const command: Command = { usage, run };
