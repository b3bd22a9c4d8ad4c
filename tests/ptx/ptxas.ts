// Running ptxas on emitted modules: found on PATH (or /usr/local/cuda/bin), several modules per
// process and a few processes at once, so hundreds of modules assemble in seconds. A failing batch
// is re-run module by module so the error names the module.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Module { readonly name: string; readonly text: string }
export interface Assembled { readonly name: string; readonly ok: boolean; readonly log: string }

/** The ptxas executable, or undefined when this machine has none. */
export function findPtxas(): string | undefined {
  for (const p of ['ptxas', '/usr/local/cuda/bin/ptxas', '/usr/local/bin/ptxas']) {
    try { execFileSync(p, ['--version'], { stdio: 'ignore' }); return p; } catch { /* next */ }
  }
  return undefined;
}

const HEADER = /^\.version[^\n]*\n\.target[^\n]*\n\.address_size[^\n]*\n/;

/** Several modules as one: entries renamed apart, headers dropped after the first. */
function merge(mods: readonly Module[]): string {
  return mods.map((m, i) => {
    const body = m.text.replace(/\.visible \.entry (\w+)\(/, `.visible .entry m${i}_$1(`);
    return i === 0 ? body : body.replace(HEADER, '');
  }).join('\n');
}

function run(ptxas: string, file: string, args: readonly string[]): Promise<{ ok: boolean; log: string }> {
  return new Promise((resolve) => {
    execFile(ptxas, ['-arch=sm_90', ...args, '-o', '/dev/null', file], { maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      resolve({ ok: !err, log: `${stdout}${stderr}` });
    });
  });
}

/** Assemble every module; `verbose` adds -v (registers, spills) to each module's log. */
export async function assemble(ptxas: string, mods: readonly Module[], opts: { batch?: number; jobs?: number; verbose?: boolean } = {}): Promise<Assembled[]> {
  const batch = opts.batch ?? 24, jobs = opts.jobs ?? 3;
  const dir = mkdtempSync(join(tmpdir(), 'arcticc-ptxas-'));
  const args = opts.verbose ? ['-v', '--warn-on-spills'] : [];
  const groups: Module[][] = [];
  for (let i = 0; i < mods.length; i += batch) groups.push(mods.slice(i, i + batch));
  const out: Assembled[] = [];
  let next = 0, files = 0;
  const worker = async (): Promise<void> => {
    while (next < groups.length) {
      const group = groups[next++];
      const file = join(dir, `b${files++}.ptx`);
      writeFileSync(file, merge(group));
      const r = await run(ptxas, file, args);
      if (r.ok && (group.length === 1 || !opts.verbose)) { for (const m of group) out.push({ name: m.name, ok: true, log: group.length === 1 ? r.log : '' }); continue; }
      for (const m of group) {
        const f = join(dir, `b${files++}.ptx`);
        writeFileSync(f, m.text);
        const one = await run(ptxas, f, args);
        out.push({ name: m.name, ok: one.ok, log: one.log });
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: jobs }, worker));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}
