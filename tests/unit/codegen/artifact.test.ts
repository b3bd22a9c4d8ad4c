// Compiled artifacts: manifest.json + one .ptx per module round-trip to the same plan; damaged ones
// fail with the file and the field named.
import { mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ArtifactError, IR_FILE, MANIFEST_FILE, readArtifact, readArtifactIr, writeArtifact } from '../../../compiler/artifact.ts';
import { compileProgram } from '../../../compiler/compile.ts';
import { printGraph } from '../../../compiler/ir/print.ts';
import { mlpSpeculator } from '../../../speculators/mlp.ts';

const program = mlpSpeculator({ hiddenSize: 32, width: 32, vocabSize: 300, nPredict: 4, scaleInput: false, tieWeights: false });
const plan = compileProgram(program.graph, { maxDims: { B: 64 } });
const dirs: string[] = [];
const fresh = (): string => { const d = mkdtempSync(join(tmpdir(), 'arcticc-artifact-')); dirs.push(d); return d; };
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

/** Write the plan, let `edit` change the manifest JSON, and return the error readArtifact throws. */
function damaged(edit: (m: Record<string, any>) => void): ArtifactError {
  const dir = fresh();
  writeArtifact(dir, plan);
  const file = join(dir, MANIFEST_FILE);
  const m = JSON.parse(readFileSync(file, 'utf8'));
  edit(m);
  writeFileSync(file, JSON.stringify(m));
  try { readArtifact(dir); } catch (e) { if (e instanceof ArtifactError) return e; throw e; }
  throw new Error('readArtifact accepted a damaged manifest');
}

describe('round trip', () => {
  it('writes manifest.json and one .ptx per module, and reads back an equal plan', () => {
    const dir = fresh();
    const files = writeArtifact(dir, plan, { ir: printGraph(program.graph) });
    expect(files.sort()).toEqual([IR_FILE, MANIFEST_FILE, ...Object.keys(plan.modules).map((k) => `${k}.ptx`)].sort());
    expect(readdirSync(dir).sort()).toEqual(files.sort());
    expect(readArtifact(dir)).toEqual(plan);
    expect(readArtifactIr(dir)).toBe(printGraph(program.graph));
    const m = JSON.parse(readFileSync(join(dir, MANIFEST_FILE), 'utf8'));
    expect(m).toMatchObject({ format: 'arcticc-plan', formatVersion: 1, irHash: plan.irHash, compilerVersion: plan.compilerVersion, maxDims: { B: 64 } });
    expect(JSON.stringify(m)).not.toContain('.version 9.0'); // PTX bodies live in their own files
  });

  it('writes only what --emit asks for', () => {
    const ir = printGraph(program.graph);
    expect(writeArtifact(fresh(), plan, { ir, emit: 'ir' })).toEqual([IR_FILE]);
    expect(writeArtifact(fresh(), plan, { ir, emit: 'ptx' })).not.toContain(IR_FILE);
    expect(() => writeArtifact(fresh(), plan, { emit: 'ir' })).toThrow(/needs the textual IR/);
  });
});

describe('bad artifacts', () => {
  it('names a missing manifest', () => {
    expect(() => readArtifact(fresh())).toThrow(/manifest\.json: cannot read \(ENOENT\)/);
  });

  it('names a manifest that is not JSON', () => {
    const dir = fresh();
    writeFileSync(join(dir, MANIFEST_FILE), '{"format": ');
    expect(() => readArtifact(dir)).toThrow(/manifest\.json: not valid JSON/);
  });

  it('names the field that fails the schema', () => {
    const e = damaged((m) => { m.kernels[1].block[0] = -32; });
    expect(e.file).toMatch(/manifest\.json$/);
    expect(e.field).toBe('kernels[1].block[0]');
    expect(damaged((m) => { m.buffers[0].dtype = 'f64'; }).field).toBe('buffers[0].dtype');
    expect(damaged((m) => { delete m.irHash; }).field).toBe('irHash');
    expect(damaged((m) => { m.formatVersion = 2; }).field).toBe('formatVersion');
    expect(damaged((m) => { m.launches[0].args.push({ pointer: 1 }); }).field).toMatch(/^launches\[0\]\.args\[\d+\]$/);
  });

  it('names dangling references and mismatched arguments', () => {
    expect(damaged((m) => { m.launches[2].kernel = 'nope'; }).message).toMatch(/launches\[2\]\.kernel: no kernel "nope"/);
    expect(damaged((m) => { m.launches[0].args[1] = { buffer: 'ghost' }; }).message).toMatch(/launches\[0\]\.args\[1\]: no buffer "ghost"/);
    expect(damaged((m) => { m.launches[0].args.pop(); }).message).toMatch(/launches\[0\]\.args: \d+ arguments for \d+ parameters/);
    expect(damaged((m) => { const t = m.buffers.find((b: any) => b.kind === 'temp'); t.offset = m.arenaBytes; }).message).toMatch(/\.offset: ends past arenaBytes/);
    expect(damaged((m) => { m.outputs[0].buffer = 'input:hidden'; }).message).toMatch(/outputs\[0\] \(draft\): "input:hidden" is not an output buffer/);
  });

  it('names a missing or edited module file', () => {
    const dir = fresh();
    writeArtifact(dir, plan);
    const key = Object.keys(plan.modules)[0];
    writeFileSync(join(dir, `${key}.ptx`), plan.modules[key].replace('ret;', 'exit;'));
    expect(() => readArtifact(dir)).toThrow(new RegExp(`${key}\\.ptx: contents do not match the sha256`));
    rmSync(join(dir, `${key}.ptx`));
    expect(() => readArtifact(dir)).toThrow(new RegExp(`${key}\\.ptx: cannot read \\(ENOENT\\)`));
  });
});
