// Consistency of an ExecutionPlan beyond its schema: every name it uses resolves, launch arguments
// match kernel parameters, temporaries fit the arena. Run on plans read from disk before a runtime
// trusts them; returns problems as "field: message" so the caller can name the file.
import type { ExecutionPlan, GridExpr, LaunchArg } from './plan.ts';
import { bufferBytes } from '../schedule/memory-plan.ts';

export function planProblems(p: ExecutionPlan): string[] {
  const out: string[] = [];
  const dimKnown = (d: number | string): boolean => typeof d === 'number' || d in p.maxDims;
  const buffers = new Map(p.buffers.map((b) => [b.id, b]));
  if (buffers.size !== p.buffers.length) out.push('buffers: duplicate buffer ids');
  p.buffers.forEach((b, i) => {
    const at = `buffers[${i}] (${b.id})`;
    for (const d of b.shape) if (!dimKnown(d)) out.push(`${at}.shape: dim "${d}" has no maximum in maxDims`);
    if (b.kind === 'temp') {
      if (b.offset === undefined) out.push(`${at}.offset: temporaries need an arena offset`);
      else if (b.offset % 16 !== 0) out.push(`${at}.offset: ${b.offset} is not 16-byte aligned`);
      else if (b.shape.every(dimKnown) && b.offset + bufferBytes(b.dtype, b.shape, p.maxDims) > p.arenaBytes) {
        out.push(`${at}.offset: ends past arenaBytes ${p.arenaBytes}`);
      }
    } else if (b.offset !== undefined) out.push(`${at}.offset: only temporaries live in the arena`);
    if (b.kind !== 'temp' && !b.name) out.push(`${at}.name: ${b.kind} buffers need a name`);
  });
  const kernels = new Map(p.kernels.map((k) => [k.name, k]));
  if (kernels.size !== p.kernels.length) out.push('kernels: duplicate kernel names');
  p.kernels.forEach((k, i) => {
    if (!(k.module in p.modules)) out.push(`kernels[${i}].module: no module "${k.module}"`);
  });
  const argOk = (a: LaunchArg, type: string): boolean =>
    'buffer' in a ? type === 'u64' : 'f32' in a ? type === 'f32' : type === 'u32';
  const gridOk = (g: GridExpr): boolean => typeof g === 'number' || (g.ceilDiv[0].every(dimKnown) && (g.when?.dims.every(dimKnown) ?? true));
  p.launches.forEach((l, i) => {
    const at = `launches[${i}]`;
    const k = kernels.get(l.kernel);
    if (!k) { out.push(`${at}.kernel: no kernel "${l.kernel}"`); return; }
    if (l.args.length !== k.params.length) out.push(`${at}.args: ${l.args.length} arguments for ${k.params.length} parameters of ${k.name}`);
    l.args.forEach((a, j) => {
      if ('buffer' in a && !buffers.has(a.buffer)) out.push(`${at}.args[${j}]: no buffer "${a.buffer}"`);
      if ('dim' in a && !dimKnown(a.dim)) out.push(`${at}.args[${j}]: dim "${a.dim}" has no maximum in maxDims`);
      const param = k.params[j];
      if (param && !argOk(a, param.type)) out.push(`${at}.args[${j}]: ${JSON.stringify(a)} does not fit parameter ${param.name}: ${param.type}`);
    });
    l.grid.forEach((g, j) => { if (!gridOk(g)) out.push(`${at}.grid[${j}]: unknown dim`); });
  });
  p.inputs.forEach((id, i) => { if (buffers.get(id)?.kind !== 'input') out.push(`inputs[${i}]: "${id}" is not an input buffer`); });
  p.outputs.forEach((o, i) => { if (buffers.get(o.buffer)?.kind !== 'output') out.push(`outputs[${i}] (${o.name}): "${o.buffer}" is not an output buffer`); });
  (p.state ?? []).forEach((x, i) => {
    const b = buffers.get(x.buffer);
    if (b?.kind !== 'state') out.push(`state[${i}] (${x.input}): "${x.buffer}" is not a state buffer`);
    else if (b.shape.some((d) => typeof d !== 'number')) out.push(`state[${i}] (${x.input}): state buffers need a static shape`);
  });
  p.buffers.forEach((b, i) => {
    if (b.kind === 'state' && !(p.state ?? []).some((x) => x.buffer === b.id)) out.push(`buffers[${i}] (${b.id}): a state buffer that no state entry names`);
  });
  return out;
}
