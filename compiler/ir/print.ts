// Textual IR printer. The format (parsed back by compiler/ir/parse/):
//   graph NAME(%x: f32[B,64], %t: i32[B]) {
//     %0 = param "head.0.weight" : bf16[512,64]
//     %1 = gather %0, %t : bf16[B,64]
//     %2 = sum %1 {axis = 1} : bf16[B]
//     return out = %2
//   }
import type { Graph } from './graph.ts';
import { graphNodes } from './graph.ts';
import type { Node } from './node.ts';
import type { ArgValue } from './ops.ts';
import type { Shape } from './shape.ts';

export function fmtNumber(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (v === Infinity) return 'inf';
  if (v === -Infinity) return '-inf';
  return Object.is(v, -0) ? '-0' : String(v);
}

const fmtType = (n: Node): string => `${n.dtype}[${fmtDims(n.shape)}]`;
const fmtDims = (s: Shape): string => s.map((d) => (typeof d === 'number' ? String(d) : d)).join(',');

function fmtAttr(v: ArgValue): string {
  if (Array.isArray(v)) return `[${v.map((x) => (typeof x === 'number' ? fmtNumber(x) : x)).join(', ')}]`;
  if (typeof v === 'number') return fmtNumber(v);
  if (typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

/** The textual IR of a graph (what `--dump-after` and graph.air show; `parseGraph` reads it back). */
export function printGraph(g: Graph): string {
  const names = new Map<Node, string>();
  for (const i of g.inputs) names.set(i, `%${i.argOf<string>('name')}`);
  const lines: string[] = [];
  lines.push(`graph ${g.name}(${g.inputs.map((i) => `${names.get(i)}: ${fmtType(i)}`).join(', ')}) {`);
  let k = 0;
  for (const n of graphNodes(g)) {
    if (names.has(n)) continue;
    const id = `%${k++}`;
    names.set(n, id);
    let body: string;
    if (n.op === 'param') body = `param ${JSON.stringify(n.argOf<string>('name'))}`;
    else if (n.op === 'const') body = `const ${fmtNumber(n.argOf<number>('value'))}`;
    else if (n.op === 'input') throw new Error(`input ${n} is used but not in the signature of graph ${g.name}`);
    else {
      const ops = n.src.map((s) => names.get(s)).join(', ');
      const attrs = n.arg ? ` {${Object.keys(n.arg).sort().map((a) => `${a} = ${fmtAttr(n.arg![a])}`).join(', ')}}` : '';
      body = `${n.op}${ops ? ' ' + ops : ''}${attrs}`;
    }
    lines.push(`  ${id} = ${body} : ${fmtType(n)}`);
  }
  lines.push(`  return ${g.outputs.map((o) => `${o.name} = ${names.get(o.node)}`).join(', ')}`);
  lines.push('}');
  return lines.join('\n') + '\n';
}
