// Checks on what a caller hands `propose`, so a bad request fails loudly instead of drafting garbage.

/**
 * One `propose` call: B requests. Each of `hidden` and `tokens` is either a host typed array or a CUDA
 * device pointer (`bigint`, e.g. a serving stack's tensor `data_ptr()`) to the same layout in device
 * memory of the speculator's context. Device pointers need the CUDA backend; their contents must be
 * ready (synchronize the stream that wrote them) when `propose` is called.
 */
export interface ProposeRequest {
  /** B×H target hidden states, f32 row-major (the target's final-norm hidden state per request), or a device pointer to them */
  readonly hidden: Float32Array | bigint;
  /** B last accepted tokens (int32), or a device pointer to them */
  readonly tokens: Int32Array | bigint;
  /** B: required when `tokens` is a device pointer; when given with host tokens it must equal tokens.length */
  readonly batch?: number;
}

/** A token that `clampTokens` moved into [0, V−1]. */
export interface ClampedToken {
  /** the request (row) it belongs to */
  readonly row: number;
  /** the id as given */
  readonly token: number;
  /** the id used */
  readonly to: number;
}

export interface ValidateOptions {
  hiddenSize: number;
  vocabSize: number;
  maxBatch?: number;
  /** mirror ArcticInference: clamp ids into [0, V−1] instead of rejecting them */
  clampTokens?: boolean;
}

/** The batch size of a request, checking `batch` against host tokens and maxBatch. */
export function requestBatch(req: ProposeRequest, maxBatch?: number): number {
  if (typeof req.tokens !== 'bigint' && !(req.tokens instanceof Int32Array)) throw new TypeError('propose: tokens must be an Int32Array of length B (or a device pointer, bigint, with batch)');
  if (typeof req.hidden !== 'bigint' && !(req.hidden instanceof Float32Array)) throw new TypeError('propose: hidden must be a Float32Array (B×H, row-major) or a device pointer (bigint)');
  let batch: number;
  if (typeof req.tokens === 'bigint') {
    if (req.batch === undefined) throw new TypeError('propose: tokens is a device pointer, so batch (B) is required');
    batch = req.batch;
  } else {
    batch = req.tokens.length;
    if (req.batch !== undefined && req.batch !== batch) throw new RangeError(`propose: batch is ${req.batch} but tokens has ${batch} values`);
  }
  if (!Number.isInteger(batch) || batch < 0) throw new RangeError(`propose: batch must be a non-negative integer, got ${batch}`);
  if (batch === 0) throw new RangeError('propose: empty batch (tokens has length 0)');
  if (maxBatch !== undefined && batch > maxBatch) throw new RangeError(`propose: batch ${batch} exceeds maxBatch ${maxBatch} (load the speculator with a larger maxBatch, or split the batch)`);
  return batch;
}

/**
 * Checks host hidden states (length, finite values; a device pointer's extent is the backend's to check)
 * and host tokens (range). Returns the tokens to use (a clamped copy when clampTokens is on) and what
 * was clamped.
 */
export function validateProposeRequest(
  req: { readonly hidden: Float32Array | bigint; readonly tokens: Int32Array }, o: ValidateOptions,
): { batch: number; tokens: Int32Array; clamped: ClampedToken[] } {
  const batch = req.tokens.length;
  if (typeof req.hidden !== 'bigint') {
    if (req.hidden.length !== batch * o.hiddenSize) {
      throw new RangeError(`propose: hidden has ${req.hidden.length} values, expected B×H = ${batch}×${o.hiddenSize} = ${batch * o.hiddenSize}`);
    }
    for (let i = 0; i < req.hidden.length; i++) {
      const v = req.hidden[i];
      if (!Number.isFinite(v)) {
        throw new RangeError(`propose: hidden[${Math.floor(i / o.hiddenSize)}][${i % o.hiddenSize}] is ${v} (row ${Math.floor(i / o.hiddenSize)}); hidden states must be finite`);
      }
    }
  }
  let tokens = req.tokens;
  const clamped: ClampedToken[] = [];
  for (let r = 0; r < batch; r++) {
    const t = req.tokens[r];
    if (t >= 0 && t < o.vocabSize) continue;
    if (!o.clampTokens) {
      throw new RangeError(`propose: token ${t} in row ${r} is outside [0, ${o.vocabSize}) (pass clampTokens: true to clamp as ArcticInference does)`);
    }
    if (tokens === req.tokens) tokens = Int32Array.from(req.tokens);
    tokens[r] = Math.min(Math.max(t, 0), o.vocabSize - 1);
    clamped.push({ row: r, token: t, to: tokens[r] });
  }
  return { batch, tokens, clamped };
}
