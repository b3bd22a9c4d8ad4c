// Checks on what a caller hands `propose`, so a bad request fails loudly instead of drafting garbage.
export interface ProposeRequest {
  /** B×H target hidden states, row-major (the target's final-norm hidden state per request) */
  readonly hidden: Float32Array;
  /** B last accepted tokens */
  readonly tokens: Int32Array;
}

export interface ValidateOptions {
  hiddenSize: number;
  vocabSize: number;
  maxBatch?: number;
  /** mirror ArcticInference: clamp ids into [0, V−1] instead of rejecting them */
  clampTokens?: boolean;
}

/** Returns the batch size and the tokens to use (a clamped copy when clampTokens is on). */
export function validateProposeRequest(req: ProposeRequest, o: ValidateOptions): { batch: number; tokens: Int32Array } {
  if (!(req.hidden instanceof Float32Array)) throw new TypeError('propose: hidden must be a Float32Array (B×H, row-major)');
  if (!(req.tokens instanceof Int32Array)) throw new TypeError('propose: tokens must be an Int32Array of length B');
  const batch = req.tokens.length;
  if (batch === 0) throw new RangeError('propose: empty batch (tokens has length 0)');
  if (o.maxBatch !== undefined && batch > o.maxBatch) throw new RangeError(`propose: batch ${batch} exceeds maxBatch ${o.maxBatch}`);
  if (req.hidden.length !== batch * o.hiddenSize) {
    throw new RangeError(`propose: hidden has ${req.hidden.length} values, expected B×H = ${batch}×${o.hiddenSize} = ${batch * o.hiddenSize}`);
  }
  for (let i = 0; i < req.hidden.length; i++) {
    const v = req.hidden[i];
    if (!Number.isFinite(v)) {
      throw new RangeError(`propose: hidden[${Math.floor(i / o.hiddenSize)}][${i % o.hiddenSize}] is ${v} (row ${Math.floor(i / o.hiddenSize)}); hidden states must be finite`);
    }
  }
  let tokens = req.tokens;
  for (let r = 0; r < batch; r++) {
    const t = req.tokens[r];
    if (t >= 0 && t < o.vocabSize) continue;
    if (!o.clampTokens) {
      throw new RangeError(`propose: token ${t} in row ${r} is outside [0, ${o.vocabSize}) (pass clampTokens: true to clamp as ArcticInference does)`);
    }
    if (tokens === req.tokens) tokens = Int32Array.from(req.tokens);
    tokens[r] = Math.min(Math.max(t, 0), o.vocabSize - 1);
  }
  return { batch, tokens };
}
