// Shape errors the types cannot see: they surface at trace time as DslErrors that name the shapes
// involved and point at the user's source line (here: this file, at the line tagged `@site:<tag>`).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { DType, ProgramBuilder, Tensor } from '../../../dsl/index.ts';
import { concat, defineProgram, DslError, rmsNorm, stack, unroll, where } from '../../../dsl/index.ts';

const FILE = fileURLToPath(import.meta.url);
const SOURCE = readFileSync(FILE, 'utf8').split('\n');

/** The 1-based line of this file that carries the tag `@site:<tag>`. */
function lineOf(tag: string): number {
  const i = SOURCE.findIndex((l) => new RegExp(`@site:${tag}(\\s|$)`).test(l));
  if (i < 0) throw new Error(`no line tagged @site:${tag}`);
  return i + 1;
}

/** Run f, which must throw a DslError; check it points at the tagged line and return it. */
function dslError(tag: string, f: () => unknown): DslError {
  let err: unknown;
  try { f(); } catch (e) { err = e; }
  expect(err, `expected a DslError for @site:${tag}`).toBeInstanceOf(DslError);
  const e = err as DslError;
  expect(e.site, e.message).toMatch(new RegExp(`^${FILE.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:${lineOf(tag)}:\\d+$`));
  expect(e.message.endsWith(`\n    at ${e.site}`)).toBe(true);
  return e;
}

/** Trace a program body with D = 4, H = 8, G = 6; `body` does the failing call. */
function trace(body: (p: ProgramBuilder) => void, dims: Record<string, number> = { D: 4, H: 8, G: 6 }): void {
  defineProgram('prog', dims, (p) => { body(p); p.output('out', p.input('unused', [1], 'f32')); });
}

describe('shape errors the types cannot see', () => {
  it('a wide dim that turns out to disagree with a bound one', () => {
    const width: number = 5; // e.g. from a config; the checker only knows `number`
    const e = dslError('wide', () => trace((p) => {
      const x = p.input('x', ['B', width], 'f32');
      const y = p.input('y', ['B', 'D'], 'f32');
      x.add(y); // @site:wide
    }));
    expect(e.message).toContain('add: cannot broadcast [B,5] with [B,4]');
  });

  it('a slice whose named dim is not its size', () => {
    const e = dslError('slice-named', () => trace((p) => {
      const x = p.input('x', ['B', 'D'], 'f32');
      const head = x.slice(1, 0, 3, 'D'); // typed [B, D], but it is [B, 3]
      head.mul(x); // @site:slice-named
    }));
    expect(e.message).toContain('mul: cannot broadcast [B,3] with [B,4]');
  });

  it('reshape to the wrong number of elements', () => {
    const e = dslError('reshape', () => trace((p) => {
      const x = p.input('x', ['B', 'D'], 'f32');
      x.reshape(['B', 2, 3]); // @site:reshape
    }));
    expect(e.message).toContain('reshape: cannot reshape [B,4] to [B,2,3]');
    const e2 = dslError('reshape-sym', () => trace((p) => {
      const x = p.input('x', ['B', 'D'], 'f32');
      x.reshape(['T', 4]); // @site:reshape-sym
    }));
    expect(e2.message).toContain('cannot reshape [B,4] to [T,4]');
  });

  it('chunk that does not divide the axis', () => {
    const e = dslError('chunk', () => trace((p) => {
      const g = p.input('g', ['B', 'G'], 'f32');
      g.chunk(-1, 4, 'D'); // @site:chunk
    }));
    expect(e.message).toContain('chunk: axis 1 of [B,6] is not 4 pieces of D=4');
    const e2 = dslError('chunk-sym', () => trace((p) => {
      const g = p.input('g', ['B', 'G'], 'f32');
      g.chunk(0, 2, 'K'); // @site:chunk-sym
    }));
    expect(e2.message).toContain('chunk: axis 0 of [B,6] is not 2 pieces of K=K');
  });

  it('concat whose joined dim is not the named one, or whose operands disagree', () => {
    const e = dslError('concat-dim', () => trace((p) => {
      const x = p.input('x', ['B', 'D'], 'f32');
      concat([x, x], -1, 'G'); // @site:concat-dim
    }));
    expect(e.message).toContain('concat: joined dim is 8, but "G" is 6');
    const e2 = dslError('concat-wide', () => trace((p) => {
      const n: number = 3, k: number = 8;
      const x = p.input('x', ['B', 'D'], 'f32');
      const y = p.input('y', [n, k], 'f32');
      concat([x, y], -1, 'Z'); // @site:concat-wide
    }));
    expect(e2.message).toContain('concat: shapes [B,4] and [3,8] differ outside axis 1');
  });

  it('stack of tensors with different shapes', () => {
    const e = dslError('stack', () => trace((p) => {
      const x = p.input('x', ['B', 'D'], 'f32');
      const h = p.input('h', ['B', 'H'], 'f32');
      stack([x, h]); // @site:stack
    }));
    expect(e.message).toContain('concat: shapes [B,4,1] and [B,8,1] differ outside axis 2');
  });

  it('linear and matmul with a K the checker could not compare', () => {
    const k: number = 5;
    const e = dslError('linear', () => trace((p) => {
      const x = p.input('x', ['B', k], 'f32');
      const w = p.param('w', ['G', 'H'], 'bf16');
      x.linear(w); // @site:linear
    }));
    expect(e.message).toContain('linear: input [B,5] does not match weight [6,8] (expected last dim 8)');
    const e2 = dslError('matmul', () => trace((p) => {
      const x = p.input('x', ['B', k], 'f32');
      const w = p.param('w2', ['H', 'G'], 'bf16');
      x.matmul(w); // @site:matmul
    }));
    expect(e2.message).toContain('matmul: inner dims differ: [B,5] · [8,6]');
  });

  it('a dtype only known at run time', () => {
    const dt = 'i32' as DType;
    const e = dslError('dtype', () => trace((p) => {
      const i = p.input('i', ['B', 'D'], dt);
      const x = p.input('x', ['B', 'D'], 'f32');
      i.add(x); // @site:dtype
    }));
    expect(e.message).toContain('add: dtype mismatch i32 vs f32 (cast one explicitly)');
  });

  it('norm weights of the wrong size (options are untyped tensors)', () => {
    const e = dslError('norm', () => trace((p) => {
      const x = p.input('x', ['B', 'D'], 'f32');
      const w = p.param('ln.weight', ['H'], 'bf16');
      rmsNorm(x, { weight: w }); // @site:norm
    }));
    expect(e.message).toContain('broadcast: cannot broadcast [8] to [B,4]');
  });

  it('where over shapes that do not broadcast', () => {
    const e2 = dslError('where-cond', () => trace((p) => {
      const x = p.input('x', ['B', 'D'], 'f32');
      const c = p.input('c', ['B', 'G'], 'bool');
      where(c, x, x); // @site:where-cond
    }));
    expect(e2.message).toContain('where: cannot broadcast [B,6], [B,4], [B,4]');
  });

  it('axes, slices and k out of range when the checker only sees `number`', () => {
    const ax: number = 2;
    const e = dslError('axis', () => trace((p) => {
      const x = p.input('x', ['B', 'D'], 'f32');
      x.sum(ax); // @site:axis
    }));
    expect(e.message).toContain('axis 2 out of range for shape [B,4]');
    const e2 = dslError('concat-axis', () => trace((p) => {
      const x = p.input('x', ['B', 'D'], 'f32');
      concat([x, x], ax, 8); // @site:concat-axis
    }));
    expect(e2.message).toContain('concat: axis 2 out of range for shape [B,4]');
    const e3 = dslError('slice', () => trace((p) => {
      const x = p.input('x', ['B', 'D'], 'f32');
      x.slice(1, 2, 9); // @site:slice
    }));
    expect(e3.message).toContain('slice: range [2, 9) out of bounds for dim 4');
    const e4 = dslError('topk', () => trace((p) => {
      const x = p.input('x', ['B', 'D'], 'f32');
      x.topk(5); // @site:topk
    }));
    expect(e4.message).toContain('k=5 out of range for last dim 4');
    const e5 = dslError('mean', () => trace((p) => {
      const x = p.input('x', ['B', 'D'], 'f32');
      x.mean(0); // @site:mean
    }));
    expect(e5.message).toContain('mean over symbolic dim "B" is not supported');
  });

  it('points at the step function inside unroll', () => {
    const e = dslError('unroll', () => trace((p) => {
      const x = p.input('x', ['B', 'D'], 'f32');
      unroll(3, x as Tensor<readonly ['B', 'D'], 'f32'>, (c, i) => {
        const y = i < 2 ? c.sigmoid() : (c.reshape(['B', 3]) as unknown as typeof c); // @site:unroll
        return [y, y] as const;
      });
    }));
    expect(e.message).toContain('reshape: cannot reshape [B,4] to [B,3]');
  });
});

describe('program declaration errors', () => {
  it('bad names, dims and duplicates', () => {
    expect(dslError('dim-name', () => trace((p) => {
      p.input('x', ['B', '2x'], 'f32'); // @site:dim-name
    })).message).toContain('input "x": dim "2x" is not a valid name');
    expect(dslError('dim-size', () => trace((p) => {
      p.input('x', ['B', -1], 'f32'); // @site:dim-size
    })).message).toContain('input "x": dim -1 is not a size');
    expect(dslError('input-name', () => trace((p) => {
      p.input('my input', ['B'], 'f32'); // @site:input-name
    })).message).toContain('input name "my input" must be an identifier');
    expect(dslError('input-twice', () => trace((p) => {
      p.input('x', ['B'], 'f32');
      p.input('x', ['B'], 'f32'); // @site:input-twice
    })).message).toContain('input "x" declared twice');
    expect(dslError('param-unbound', () => trace((p) => {
      p.param('w', ['V', 'D'], 'bf16'); // @site:param-unbound
    })).message).toContain('param "w": every dim must be bound (got [V, D])');
    expect(dslError('param-twice', () => trace((p) => {
      p.param('w', ['D'], 'bf16');
      p.param('w', ['H'], 'bf16'); // @site:param-twice
    })).message).toContain('param "w" declared with two shapes: param{name="w"}:bf16[4] and param{name="w"}:bf16[8]');
    expect(dslError('output-twice', () => defineProgram('p', {}, (p) => {
      const x = p.input('x', [1], 'f32');
      p.output('y', x);
      p.output('y', x); // @site:output-twice
    })).message).toContain('output "y" declared twice');
    expect(dslError('no-outputs', () => defineProgram('nothing', {}, (p) => { // @site:no-outputs
      p.input('x', [1], 'f32');
    })).message).toContain('program nothing declares no outputs');
    expect(dslError('bad-dim', () => defineProgram('p', { D: 0 }, () => {}))).toBeInstanceOf(DslError); // @site:bad-dim
    expect(dslError('unroll-n', () => trace(() => {
      unroll(0, 1, (c) => [c, c] as const); // @site:unroll-n
    })).message).toContain('unroll: step count must be a positive integer, got 0');
  });

  it('the same param name and shape is the same tensor', () => {
    defineProgram('p', { D: 4 }, (p) => {
      const a = p.param('w', ['D'], 'bf16');
      const b = p.param('w', [4], 'bf16');
      expect(a.node).toBe(b.node);
      p.output('y', a);
    });
  });
});
