// The text of `--dump-after schedule`: the kernels the scheduler formed, in launch order, each with the
// IR values it computes (named as in the printed IR, %N), what it stores, and what it inlines.
import type { Graph } from '../../compiler/ir/graph.ts';
import { graphNodes } from '../../compiler/ir/graph.ts';
import type { Node } from '../../compiler/ir/node.ts';
import type { Schedule } from '../../compiler/schedule/types.ts';

/** The %names printGraph gives every node of `g` (inputs by name, the rest numbered in order). */
function valueNames(g: Graph): Map<Node, string> {
  const names = new Map<Node, string>();
  for (const i of g.inputs) names.set(i, `%${i.argOf<string>('name')}`);
  let k = 0;
  for (const n of graphNodes(g)) if (!names.has(n)) names.set(n, `%${k++}`);
  return names;
}

export function formatSchedule(s: Schedule): string {
  const names = valueNames(s.graph);
  const name = (n: Node): string => names.get(n) ?? n.toString();
  const lines = [`schedule ${s.graph.name}: ${s.kernels.length} kernels, ${s.buffers.length} buffers, ${s.inlined.size} values inlined where used`];
  for (const k of s.kernels) {
    const over = `[${k.shape.join(', ')}]${k.axis === null ? '' : ` axis ${k.axis}`}`;
    lines.push(`  kernel ${k.index} (${k.kind} over ${over}${k.partials ? ', argmax partials + reduce launch' : ''})`);
    if (k.operand) {
      const norms = k.operand.norms.length ? `, with the statistics of ${k.operand.norms.map(name).join(', ')}` : '';
      lines.push(`    x = ${name(k.operand.x)} computed in the x load${norms} (docs/fusion.md)`);
    }
    for (const it of k.items) {
      const src = it.node.src.map(name).join(', ');
      lines.push(`    ${name(it.node)} = ${it.node.op}${src ? ` ${src}` : ''} : ${it.node.dtype}[${it.node.shape.join(',')}]${it.store ? ` -> ${it.store}` : ' (kept in the kernel)'}`);
    }
  }
  lines.push('  buffers:');
  for (const b of s.buffers) lines.push(`    ${b.id}: ${b.kind}${b.name ? ` "${b.name}"` : ''} ${b.dtype}[${b.shape.join(',')}]`);
  return lines.join('\n') + '\n';
}
