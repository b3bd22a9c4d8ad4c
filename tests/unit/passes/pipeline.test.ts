// The pass registry and the pipeline driver: names, options, dumps, stop points and verification.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Node } from '../../../compiler/ir/node.ts';
import { IRVerifyError } from '../../../compiler/ir/verify.ts';
import { definePass } from '../../../compiler/passes/pass.ts';
import { getPass, PASSES } from '../../../compiler/passes/registry.ts';
import { DEFAULT_PIPELINE, parsePipeline, runPipeline } from '../../../compiler/pipeline.ts';
import { errorOf, parseIR } from '../../support/ir.ts';

const G = `graph g(%x: f32[4]) {
  %one = const 1 : f32[4]
  %y = mul %x, %one : f32[4]
  %n = neg %y : f32[4]
  return n = %n
}`;

describe('pass registry', () => {
  it('has one file per pass, named after its CLI flag, with a summary, description and options schema', () => {
    expect([...PASSES.keys()]).toEqual(['simplify', 'fold-concat-slice', 'canonicalize', 'gate-fusion', 'fp8-matmul', 'bf16-activations', 'lm-head-argmax', 'lm-head-topk', 'lm-head-certify']);
    for (const [name, p] of PASSES) {
      expect(p.name).toBe(name);
      expect(existsSync(new URL(`../../../compiler/passes/${name}.ts`, import.meta.url))).toBe(true);
      expect(p.summary.length).toBeGreaterThan(10);
      expect(p.description.length).toBeGreaterThan(p.summary.length);
      expect(p.options.safeParse({}).success).toBe(true);
    }
  });

  it('names every known pass when asked for an unknown one', () => {
    expect(() => getPass('fuse-gates')).toThrow('unknown pass "fuse-gates" (known passes: simplify, fold-concat-slice, canonicalize, gate-fusion, fp8-matmul, bf16-activations, lm-head-argmax, lm-head-topk, lm-head-certify)');
    expect(() => runPipeline(parseIR(G), 'simplify,dce')).toThrow(/unknown pass "dce" \(known passes: simplify, /);
  });
});

describe('parsePipeline', () => {
  it('reads names and {key=value} options', () => {
    expect(parsePipeline(' simplify , fold-concat-slice{pushdown=false},canonicalize{maxIterations=3 pushdown=true}')).toEqual([
      'simplify', { pass: 'fold-concat-slice', options: { pushdown: false } }, { pass: 'canonicalize', options: { maxIterations: 3, pushdown: true } },
    ]);
    expect(parsePipeline('')).toEqual([]);
    expect(() => parsePipeline('simplify{x}')).toThrow(/option "x" of pass simplify is not key=value/);
    expect(() => parsePipeline('a b')).toThrow(/cannot parse "a b"/);
  });
});

describe('runPipeline', () => {
  it('runs passes in order and returns the new graph', () => {
    const out = runPipeline(parseIR(G), DEFAULT_PIPELINE, { verify: true });
    const x = Node.make('input', [], { name: 'x' }, 'f32', [4]);
    expect(out.outputs[0].node).toBe(Node.make('neg', [x]));
  });

  it('validates options with each pass schema before running anything', () => {
    expect(() => runPipeline(parseIR(G), 'fold-concat-slice{pushdown=3}')).toThrow(/options of pass fold-concat-slice: .*expected boolean/s);
    expect(() => runPipeline(parseIR(G), [{ pass: 'simplify', options: { aggressive: true } }])).toThrow(/options of pass simplify: .*aggressive/s);
  });

  it('dumps after the named passes (or all), and stops after --stop-after', () => {
    const dumps: [string, string][] = [];
    runPipeline(parseIR(G), 'fold-concat-slice,simplify,canonicalize', { dumpAfter: ['simplify'], onDump: (p, t) => dumps.push([p, t]) });
    expect(dumps.map(([p]) => p)).toEqual(['simplify']);
    expect(dumps[0][1]).toBe('graph g(%x: f32[4]) {\n  %0 = neg %x : f32[4]\n  return n = %0\n}\n');
    const seen: string[] = [];
    const out = runPipeline(parseIR(G), 'fold-concat-slice,simplify,canonicalize', { dumpAfter: 'all', stopAfter: 'fold-concat-slice', onDump: (p) => seen.push(p) });
    expect(seen).toEqual(['fold-concat-slice']);
    expect(out.outputs[0].node.src[0].op).toBe('mul');
  });

  it('rejects --dump-after/--stop-after names that are not in the pipeline', () => {
    expect(() => runPipeline(parseIR(G), 'simplify', { stopAfter: 'canonicalize' })).toThrow(/names pass "canonicalize", which is not in the pipeline \(simplify\)/);
    expect(() => runPipeline(parseIR(G), 'simplify', { dumpAfter: ['simplfy'] })).toThrow(/"simplfy"/);
  });

  it('verifies after every pass at the pass stage when asked, naming the pass', () => {
    // a broken pass: claims the "simplified" stage but leaves a cast to the same dtype behind
    const bad = definePass({
      name: 'add-identity-cast', summary: 'test pass', description: 'test pass that breaks its stage', options: z.strictObject({}), stage: 'simplified',
      run: (g) => ({ ...g, outputs: g.outputs.map((o) => ({ ...o, node: Node.make('cast', [o.node], null, o.node.dtype) })) }),
    });
    expect(() => runPipeline(parseIR(G), ['simplify', bad])).not.toThrow();
    const e = errorOf(() => runPipeline(parseIR(G), ['simplify', bad], { verify: true }));
    expect(e).toBeInstanceOf(IRVerifyError);
    expect(e.message).toMatch(/^graph g after pass add-identity-cast fails verification \(stage simplified\):\n {2}\[no-identity-cast\] %1 = cast: cast to its operand's dtype f32/);
  });
});
