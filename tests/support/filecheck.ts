// A small FileCheck (LLVM's golden-text checker): CHECK, CHECK-NEXT, CHECK-SAME, CHECK-NOT, CHECK-LABEL,
// {{regex}}, [[var:regex]] definitions and [[var]] uses. Runs of spaces in a pattern match any run of
// horizontal whitespace, as in FileCheck without --strict-whitespace. Failures show the check line and
// the input region that was searched.
export type CheckKind = 'CHECK' | 'CHECK-NEXT' | 'CHECK-SAME' | 'CHECK-NOT' | 'CHECK-LABEL';
export interface Check { readonly kind: CheckKind; readonly pattern: string; readonly line: number }
export interface FileCheckOptions { readonly prefix?: string; readonly checkFile?: string; readonly inputFile?: string }

export class FileCheckError extends Error {
  override name = 'FileCheckError';
}

const SUFFIXES: Record<string, CheckKind> = { '': 'CHECK', '-NEXT': 'CHECK-NEXT', '-SAME': 'CHECK-SAME', '-NOT': 'CHECK-NOT', '-LABEL': 'CHECK-LABEL' };
const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The check directives of a file, in order, with 1-based line numbers. */
export function parseChecks(text: string, opts: FileCheckOptions = {}): Check[] {
  const prefix = opts.prefix ?? 'CHECK';
  const re = new RegExp(`(?:^|[^A-Za-z0-9_-])${escapeRe(prefix)}(-[A-Z]+)?:(.*)$`);
  const checks: Check[] = [];
  text.split('\n').forEach((raw, i) => {
    const m = re.exec(raw.replace(/\r$/, ''));
    if (!m) return;
    const kind = SUFFIXES[m[1] ?? ''];
    const where = `${opts.checkFile ?? '<checks>'}:${i + 1}`;
    if (!kind) throw new FileCheckError(`${where}: unsupported directive ${prefix}${m[1]}`);
    const pattern = m[2].trim();
    if (pattern === '') throw new FileCheckError(`${where}: empty ${kind} pattern`);
    checks.push({ kind, pattern, line: i + 1 });
  });
  return checks;
}

/** The `]]` closing a [[...]], skipping brackets of character classes inside it (as LLVM does). */
function varEnd(p: string, from: number): number {
  let depth = 0;
  for (let k = from; k < p.length; k++) {
    if (p[k] === '\\') k++;
    else if (p[k] === '[') depth++;
    else if (p[k] === ']') { if (depth === 0 && p[k + 1] === ']') return k; depth = Math.max(0, depth - 1); }
  }
  return -1;
}

/** Pattern → regex source, resolving [[var]] uses against the variables defined so far. */
function compile(c: Check, vars: ReadonlyMap<string, string>, where: string): { re: RegExp; defs: string[] } {
  let src = '';
  const defs: string[] = [];
  const p = c.pattern;
  for (let i = 0; i < p.length;) {
    const open = p.startsWith('{{', i) ? '}}' : p.startsWith('[[', i) ? ']]' : undefined;
    if (!open) {
      const next = [p.indexOf('{{', i), p.indexOf('[[', i)].filter((k) => k >= 0);
      const end = next.length ? Math.min(...next) : p.length;
      src += p.slice(i, end).split(/[ \t]+/).map(escapeRe).join('[ \\t]+');
      i = end;
      continue;
    }
    const close = open === '}}' ? p.indexOf(open, i + 2) : varEnd(p, i + 2);
    if (close < 0) throw new FileCheckError(`${where}: unterminated ${p.slice(i, i + 2)} in "${p}"`);
    const body = p.slice(i + 2, close);
    i = close + 2;
    if (open === '}}') { src += `(?:${body})`; continue; }
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(?::([\s\S]*))?$/.exec(body);
    if (!m) throw new FileCheckError(`${where}: bad variable reference [[${body}]]`);
    const [, name, def] = m;
    if (def !== undefined) { src += `(?<v_${name}>${def})`; defs.push(name); }
    else if (defs.includes(name)) src += `\\k<v_${name}>`;
    else if (vars.has(name)) src += escapeRe(vars.get(name)!);
    else throw new FileCheckError(`${where}: ${c.kind}: undefined variable [[${name}]] in "${p}"`);
  }
  try {
    return { re: new RegExp(src, 'g'), defs };
  } catch (e) {
    throw new FileCheckError(`${where}: invalid regex in "${p}": ${(e as Error).message}`);
  }
}

interface Pos { line: number; col: number }
interface Match { line: number; start: number; end: number; groups: Record<string, string> }

export function fileCheck(input: string, checkText: string, opts: FileCheckOptions = {}): void {
  const checks = parseChecks(checkText, opts);
  if (checks.length === 0) throw new FileCheckError(`${opts.checkFile ?? '<checks>'}: no ${opts.prefix ?? 'CHECK'} directives found`);
  const lines = input.split('\n').map((l) => l.replace(/\r$/, ''));
  const eof: Pos = { line: lines.length - 1, col: lines[lines.length - 1].length };
  const vars = new Map<string, string>();
  const where = (c: Check): string => `${opts.checkFile ?? '<checks>'}:${c.line}`;

  const search = (c: Check, from: Pos, to: Pos): Match | undefined => {
    const { re } = compile(c, vars, where(c));
    for (let l = from.line; l <= to.line; l++) {
      re.lastIndex = l === from.line ? from.col : 0;
      const m = re.exec(lines[l].slice(0, l === to.line ? to.col : undefined));
      if (m) return { line: l, start: m.index, end: m.index + m[0].length, groups: m.groups ?? {} };
    }
    return undefined;
  };
  const fail = (c: Check, why: string, from: Pos, to: Pos, at?: Match): never => {
    const first = Math.max(0, from.line - 1), last = Math.min(to.line, Math.max(first + 40, at?.line ?? 0));
    const region = lines.slice(first, last + 1).map((t, k) => {
      const n = first + k;
      return `${n === at?.line ? '>' : n === from.line ? '*' : ' '}${String(n + 1).padStart(5)} | ${t}`;
    });
    const more = to.line > last ? `\n       ... (${to.line - last} more lines)` : '';
    throw new FileCheckError([
      `${where(c)}: ${c.kind}: ${why}`, `  ${c.kind}: ${c.pattern}`,
      `searched ${opts.inputFile ?? '<input>'} from line ${from.line + 1}:${from.col + 1} to ${to.line + 1}:${to.col + 1} (* search start${at ? ', > match' : ''}):`,
      ...region,
    ].join('\n') + more);
  };
  const define = (c: Check, m: Match): void => {
    for (const name of compile(c, vars, where(c)).defs) vars.set(name, m.groups[`v_${name}`]);
  };

  // Labels first: they cut the input into blocks, and the checks between two labels stay in their block.
  const labels: Match[] = [];
  let pos: Pos = { line: 0, col: 0 };
  for (const c of checks.filter((k) => k.kind === 'CHECK-LABEL')) {
    const m = search(c, pos, eof) ?? fail(c, 'label not found in input', pos, eof);
    define(c, m);
    labels.push(m);
    pos = { line: m.line, col: m.end };
  }
  let block = 0;
  let prev: Match | undefined;
  let nots: Check[] = [];
  const blockEnd = (): Pos => (labels[block] ? { line: labels[block].line, col: labels[block].start } : eof);
  const prevEnd = (): Pos => (prev ? { line: prev.line, col: prev.end } : { line: 0, col: 0 });
  const flushNots = (to: Pos): void => {
    for (const c of nots) {
      const m = search(c, prevEnd(), to);
      if (m) fail(c, 'excluded string found in input', prevEnd(), to, m);
    }
    nots = [];
  };
  for (const c of checks) {
    if (c.kind === 'CHECK-NOT') { nots.push(c); continue; }
    if (c.kind === 'CHECK-LABEL') {
      flushNots(blockEnd());
      prev = labels[block++];
      continue;
    }
    if (!prev && c.kind !== 'CHECK') throw new FileCheckError(`${where(c)}: ${c.kind} cannot be the first check`);
    const from = prevEnd(), to = blockEnd();
    const m = search(c, from, to) ?? fail(c, 'expected string not found in input', from, to);
    if (c.kind === 'CHECK-NEXT' && m.line !== prev!.line + 1) {
      fail(c, m.line === prev!.line ? 'match is on the same line as the previous match' : 'match is not on the line after the previous match', from, to, m);
    }
    if (c.kind === 'CHECK-SAME' && m.line !== prev!.line) fail(c, 'match is not on the same line as the previous match', from, to, m);
    flushNots({ line: m.line, col: m.start });
    define(c, m);
    prev = m;
  }
  flushNots(blockEnd());
}
