// RoPE cos/sin tables [maxLen, D/2], computed in fp32 the way Hugging Face computes them: inv_freq =
// 1 / θ^(2i/D) (then llama3 scaling), angle = fp32(inv_freq · position), cos/sin rounded to fp32.
import type { HostTensor } from '../../compiler/ir/tensor-data.ts';
import { hostTensor } from '../../compiler/ir/tensor-data.ts';
import type { RopeConfig } from '../checkpoint/llama-config.ts';

const f = Math.fround;

export function ropeInvFreq(rope: RopeConfig, headDim: number): Float32Array {
  const half = headDim / 2;
  const inv = new Float32Array(half);
  for (let i = 0; i < half; i++) inv[i] = f(1 / f(f(rope.theta) ** f((2 * i) / headDim)));
  if (rope.type === 'default') return inv;
  const factor = rope.factor!, lo = rope.lowFreqFactor!, hi = rope.highFreqFactor!, old = rope.originalMaxPositions!;
  const lowWavelen = old / lo, highWavelen = old / hi;
  for (let i = 0; i < half; i++) {
    const wavelen = (2 * Math.PI) / inv[i];
    let v = wavelen > lowWavelen ? inv[i] / factor : inv[i];
    const medium = !(wavelen < highWavelen) && !(wavelen > lowWavelen);
    if (medium) {
      const smooth = (old / wavelen - lo) / (hi - lo);
      v = (1 - smooth) * (v / factor) + smooth * v;
    }
    inv[i] = f(v);
  }
  return inv;
}

export function ropeTables(rope: RopeConfig, headDim: number, maxLen: number): { cos: HostTensor; sin: HostTensor } {
  const inv = ropeInvFreq(rope, headDim);
  const half = headDim / 2;
  const cos = new Float32Array(maxLen * half), sin = new Float32Array(maxLen * half);
  for (let p = 0; p < maxLen; p++) {
    for (let i = 0; i < half; i++) {
      const a = f(inv[i] * p);
      cos[p * half + i] = Math.cos(a);
      sin[p * half + i] = Math.sin(a);
    }
  }
  return { cos: hostTensor('f32', [maxLen, half], cos), sin: hostTensor('f32', [maxLen, half], sin) };
}
