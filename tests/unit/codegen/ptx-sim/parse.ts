// Parse the PTX our backend emits (one .entry per module) into params, register files, shared
// arrays, labels and instructions with operands split. Only the subset the compiler produces.

export interface Operand {
  readonly kind: 'reg' | 'imm' | 'addr' | 'vec' | 'sym';
  readonly text: string;
  /** addr: base register or param name and byte offset; vec: element operands */
  readonly base?: string;
  readonly offset?: number;
  readonly items?: readonly string[];
}

export interface Instr {
  readonly op: string;
  readonly args: readonly Operand[];
  readonly pred?: { readonly reg: string; readonly negate: boolean };
  readonly line: number;
  readonly text: string;
}

export interface ParsedKernel {
  readonly name: string;
  readonly params: readonly { name: string; type: string }[];
  /** register prefix (%r, %f, ...) → count */
  readonly regs: ReadonlyMap<string, number>;
  readonly shared: ReadonlyMap<string, { offset: number; bytes: number }>;
  readonly sharedBytes: number;
  readonly maxntid: number;
  readonly labels: ReadonlyMap<string, number>;
  readonly body: readonly Instr[];
}

function splitOperands(s: string): string[] {
  const out: string[] = [];
  let depth = 0, cur = '';
  for (const ch of s) {
    if (ch === '{' || ch === '[') depth++;
    if (ch === '}' || ch === ']') depth--;
    if (ch === ',' && depth === 0) { out.push(cur.trim()); cur = ''; } else cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

function operand(t: string): Operand {
  if (t.startsWith('[')) {
    const m = /^\[([^\]+]+)(?:\+(-?\d+))?\]$/.exec(t);
    if (!m) throw new Error(`bad address operand ${t}`);
    return { kind: 'addr', text: t, base: m[1].trim(), offset: m[2] ? Number(m[2]) : 0 };
  }
  if (t.startsWith('{')) return { kind: 'vec', text: t, items: t.slice(1, -1).split(',').map((x) => x.trim()) };
  if (t.startsWith('%')) return { kind: 'reg', text: t };
  if (/^(-?\d+|0x[0-9a-fA-F]+|0f[0-9a-fA-F]{8})$/.test(t)) return { kind: 'imm', text: t };
  return { kind: 'sym', text: t };
}

export function parseKernel(ptx: string): ParsedKernel {
  const lines = ptx.split('\n');
  const head = /\.visible \.entry (\w+)\(/.exec(ptx);
  if (!head) throw new Error('no .visible .entry');
  const params: { name: string; type: string }[] = [];
  const regs = new Map<string, number>();
  const shared = new Map<string, { offset: number; bytes: number }>();
  const labels = new Map<string, number>();
  const body: Instr[] = [];
  let sharedBytes = 0, maxntid = 0, inBody = false;
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('//')) return;
    const p = /^\.param \.(\w+) (\w+),?$/.exec(line);
    if (p) { params.push({ type: p[1], name: p[2] }); return; }
    const mx = /^\.maxntid (\d+)/.exec(line);
    if (mx) { maxntid = Number(mx[1]); return; }
    if (line === '{') { inBody = true; return; }
    if (!inBody || line === '}') return;
    const r = /^\.reg \.\w+ (%\w+?)<(\d+)>;$/.exec(line);
    if (r) { regs.set(r[1], Number(r[2])); return; }
    const sh = /^\.shared \.align (\d+) \.b8 (\w+)\[(\d+)\];$/.exec(line);
    if (sh) {
      const align = Number(sh[1]);
      sharedBytes = Math.ceil(sharedBytes / align) * align;
      shared.set(sh[2], { offset: sharedBytes, bytes: Number(sh[3]) });
      sharedBytes += Number(sh[3]);
      return;
    }
    if (line.endsWith(':')) { labels.set(line.slice(0, -1), body.length); return; }
    const m = /^(?:@(!?)(%p\d+)\s+)?([\w.:]+)\s*(.*?);$/.exec(line);
    if (!m) throw new Error(`line ${i + 1}: cannot parse "${line}"`);
    body.push({
      op: m[3], args: splitOperands(m[4]).map(operand), line: i + 1, text: line,
      ...(m[2] ? { pred: { reg: m[2], negate: m[1] === '!' } } : {}),
    });
  });
  return { name: head[1], params, regs, shared, sharedBytes, maxntid, labels, body };
}
