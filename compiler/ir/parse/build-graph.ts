// The CST visitor: turns parsed syntax into a Graph by calling Node.make for every node, so each one is
// re-inferred and interned exactly as the DSL would have built it. All semantic errors (undefined
// names, unknown ops, attributes, types that disagree with inference) are raised here, with positions.
import type { IToken } from 'chevrotain';
import type { DType } from '../dtype.ts';
import { DTYPES, isDType } from '../dtype.ts';
import { IRError } from '../errors.ts';
import type { Graph, GraphOutput } from '../graph.ts';
import { makeGraph } from '../graph.ts';
import { Node } from '../node.ts';
import type { Arg, ArgValue, Op } from '../ops.ts';
import { ARG_KEYS, isOp, OPS, OPTIONAL_ARG_KEYS } from '../ops.ts';
import type { Dim } from '../shape.ts';
import { fmtShape, sameShape } from '../shape.ts';
import type {
  AttrCstChildren, AttrsCstChildren, AttrValueCstChildren, DimCstChildren, GraphCstChildren, GraphInputCstChildren,
  GraphOutputCstChildren, IrCstVisitor, ListCstChildren, ListItemCstChildren, ModuleCstChildren, NameCstChildren,
  NodeBodyCstChildren, NumberCstChildren, RetCstChildren, StatementCstChildren, TypeCstChildren,
} from './cst-types.ts';
import { IRParseError } from './errors.ts';
import { irParser } from './grammar.ts';

/** Values defined so far in one graph, with where each was defined (for redefinition errors). */
type Scope = Map<string, { node: Node; tok: IToken }>;
interface TypeAnn { dtype: DType; shape: Dim[]; tok: IToken }
interface Name { text: string; tok: IToken }

const BaseVisitor = irParser.getBaseCstVisitorConstructor();
const fmtType = (dtype: DType, shape: readonly Dim[]): string => `${dtype}${fmtShape(shape)}`;

function nearestOp(word: string): Op | undefined {
  const dist = (a: string, b: string): number => {
    let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      const cur = [i];
      for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
    return prev[b.length];
  };
  const best = OPS.map((op) => ({ op, d: dist(word, op) })).sort((x, y) => x.d - y.d)[0];
  return best.d <= 2 ? best.op : undefined;
}

// Methods are called directly with typed children (not through `visit`), so every call is type-checked;
// validateVisitor still guarantees a method per grammar rule.
export class GraphBuilder extends BaseVisitor implements IrCstVisitor<unknown, unknown> {
  readonly file: string;
  readonly source: string;

  constructor(file: string, source: string) {
    super();
    this.file = file;
    this.source = source;
    this.validateVisitor();
  }

  fail(tok: IToken, reason: string): never {
    throw new IRParseError(this.file, tok.startLine ?? 1, tok.startColumn ?? 1, reason, this.source);
  }

  /** Node.make with inference errors reported at the token that introduced the node. */
  make(tok: IToken, op: Op, src: readonly Node[], arg: Arg, dtype?: DType, shape?: readonly Dim[]): Node {
    try {
      return Node.make(op, src, arg, dtype, shape);
    } catch (e) {
      if (e instanceof IRError) this.fail(tok, e.message);
      throw e;
    }
  }

  module(c: ModuleCstChildren): Graph[] {
    return (c.graph ?? []).map((g) => this.graph(g.children));
  }

  graph(c: GraphCstChildren): Graph {
    const name = this.name(c.name[0].children);
    const scope: Scope = new Map();
    const inputs = (c.graphInput ?? []).map((i) => this.graphInput(i.children, scope));
    for (const s of c.statement ?? []) this.statement(s.children, scope);
    const outputs = this.ret(c.ret[0].children, scope);
    try {
      return makeGraph(name.text, inputs, outputs);
    } catch (e) {
      if (e instanceof IRError) this.fail(c.Graph[0], e.message);
      throw e;
    }
  }

  fresh(scope: Scope, tok: IToken): void {
    const prev = scope.get(tok.image);
    if (prev) this.fail(tok, `${tok.image} is already defined at ${prev.tok.startLine}:${prev.tok.startColumn}`);
  }

  define(scope: Scope, tok: IToken, node: Node): void {
    this.fresh(scope, tok);
    scope.set(tok.image, { node, tok });
  }

  lookup(scope: Scope, tok: IToken): Node {
    const hit = scope.get(tok.image);
    if (!hit) this.fail(tok, `undefined value ${tok.image}`);
    return hit.node;
  }

  graphInput(c: GraphInputCstChildren, scope: Scope): Node {
    const tok = c.LocalName[0];
    const t = this.type(c.type[0].children);
    const node = this.make(tok, 'input', [], { name: tok.image.slice(1) }, t.dtype, t.shape);
    this.define(scope, tok, node);
    return node;
  }

  statement(c: StatementCstChildren, scope: Scope): Node {
    const tok = c.LocalName[0];
    this.fresh(scope, tok);
    const ann = this.type(c.type[0].children);
    const node = this.nodeBody(c.nodeBody[0].children, { scope, ann });
    if (node.dtype !== ann.dtype || !sameShape(node.shape, ann.shape)) {
      this.fail(ann.tok, `type annotation ${fmtType(ann.dtype, ann.shape)} disagrees with the inferred type ${fmtType(node.dtype, node.shape)}`);
    }
    this.define(scope, tok, node);
    return node;
  }

  nodeBody(c: NodeBodyCstChildren, ctx: { scope: Scope; ann: TypeAnn }): Node {
    const { ann } = ctx;
    if (c.Param) return this.make(c.Param[0], 'param', [], { name: JSON.parse(c.StringLiteral![0].image) as string }, ann.dtype, ann.shape);
    if (c.Const) return this.make(c.Const[0], 'const', [], { value: this.number(c.number![0].children) }, ann.dtype, ann.shape);
    const opTok = c.op![0];
    const op = opTok.image;
    if (op === 'input') this.fail(opTok, `input nodes are declared in the graph signature, e.g. graph g(%x: f32[B]), not defined in the body`);
    if (!isOp(op)) {
      const near = nearestOp(op);
      this.fail(opTok, `unknown op '${op}'${near ? ` (did you mean '${near}'?)` : ''}`);
    }
    const src = (c.operand ?? []).map((t) => this.lookup(ctx.scope, t));
    const arg = this.attrs(c.attrs?.[0].children, { op, opTok });
    return this.make(opTok, op, src, arg, op === 'cast' ? ann.dtype : undefined);
  }

  /** Attributes exactly as ARG_KEYS lists them for the op; `{}` and no braces both mean none. */
  attrs(c: AttrsCstChildren | undefined, ctx: { op: Op; opTok: IToken }): Arg {
    const want = ARG_KEYS[ctx.op] ?? [];
    const arg: Record<string, ArgValue> = {};
    for (const a of c?.attr ?? []) {
      const { key, value } = this.attr(a.children);
      if (Object.hasOwn(arg, key.text)) this.fail(key.tok, `attribute '${key.text}' is given twice`);
      if (!want.includes(key.text) && !(OPTIONAL_ARG_KEYS[ctx.op] ?? []).includes(key.text)) {
        this.fail(key.tok, `unexpected attribute '${key.text}' for ${ctx.op} (${want.length ? `expected ${want.map((k) => `'${k}'`).join(', ')}` : 'it takes no attributes'})`);
      }
      arg[key.text] = value;
    }
    const missing = want.filter((k) => !Object.hasOwn(arg, k));
    if (missing.length) this.fail(c?.RBrace[0] ?? ctx.opTok, `${ctx.op} needs attribute${missing.length > 1 ? 's' : ''} ${missing.map((k) => `'${k}'`).join(', ')}`);
    return want.length ? arg : null;
  }

  attr(c: AttrCstChildren): { key: Name; value: ArgValue } {
    return { key: this.name(c.name[0].children), value: this.attrValue(c.attrValue[0].children) };
  }

  attrValue(c: AttrValueCstChildren): ArgValue {
    if (c.StringLiteral) return JSON.parse(c.StringLiteral[0].image) as string;
    if (c.BooleanLiteral) return c.BooleanLiteral[0].image === 'true';
    if (c.list) return this.list(c.list[0].children);
    return this.number(c.number![0].children);
  }

  list(c: ListCstChildren): (number | string)[] {
    return (c.listItem ?? []).map((i) => this.listItem(i.children));
  }

  listItem(c: ListItemCstChildren): number | string {
    if (c.name) return this.name(c.name[0].children).text;
    return this.number(c);
  }

  number(c: NumberCstChildren): number {
    const tok = c.NumberLiteral?.[0] ?? c.NonFinite![0];
    const v = tok.image === 'inf' ? Infinity : tok.image === 'nan' ? NaN : Number(tok.image);
    return c.Minus ? -v : v;
  }

  ret(c: RetCstChildren, scope: Scope): GraphOutput[] {
    const outs: GraphOutput[] = [];
    for (const o of c.graphOutput ?? []) {
      const out = this.graphOutput(o.children, scope);
      if (outs.some((x) => x.name === out.name)) this.fail(this.name(o.children.name[0].children).tok, `output '${out.name}' is returned twice`);
      outs.push(out);
    }
    return outs;
  }

  graphOutput(c: GraphOutputCstChildren, scope: Scope): GraphOutput {
    return { name: this.name(c.name[0].children).text, node: this.lookup(scope, c.LocalName[0]) };
  }

  type(c: TypeCstChildren): TypeAnn {
    const tok = c.dtype[0];
    if (!isDType(tok.image)) this.fail(tok, `unknown dtype '${tok.image}' (expected one of ${DTYPES.join(', ')})`);
    return { dtype: tok.image, shape: (c.dim ?? []).map((d) => this.dim(d.children)), tok };
  }

  dim(c: DimCstChildren): Dim {
    if (c.name) return this.name(c.name[0].children).text;
    const tok = c.NumberLiteral![0];
    const v = Number(tok.image);
    if (!Number.isInteger(v)) this.fail(tok, `dimension ${tok.image} is not a non-negative integer`);
    return v;
  }

  name(c: NameCstChildren): Name {
    const tok = c.Identifier?.[0] ?? c.Keyword![0];
    return { text: tok.image, tok };
  }
}
