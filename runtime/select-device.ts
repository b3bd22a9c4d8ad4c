// Which backend to run on: what the caller asked for, or for 'auto' the best available, with the reason.
import type { DeviceKind } from './backend.ts';

export interface DeviceChoice { device: DeviceKind; reason?: string }

/** Probe CUDA without making a CPU-only machine pay for (or fail on) the driver binding. */
export async function probeCuda(): Promise<{ ok: true; description: string } | { ok: false; reason: string }> {
  try {
    const cuda = await import('./cuda/index.ts');
    return cuda.cudaAvailable();
  } catch (e) {
    return { ok: false, reason: `the CUDA runtime could not be loaded: ${(e as Error).message}` };
  }
}

export async function selectDevice(want: DeviceKind | 'auto'): Promise<DeviceChoice> {
  if (want === 'cpu') return { device: 'cpu' };
  if (want !== 'cuda' && want !== 'auto') throw new RangeError(`device must be "cpu", "cuda" or "auto", got ${JSON.stringify(want)}`);
  const probe = await probeCuda();
  if (probe.ok) return { device: 'cuda', reason: want === 'auto' ? `auto: ${probe.description}` : undefined };
  if (want === 'cuda') throw new Error(`device "cuda" requested but CUDA is not available: ${probe.reason}`);
  return { device: 'cpu', reason: `auto: no CUDA (${probe.reason})` };
}
