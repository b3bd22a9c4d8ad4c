// The DSL front end (compiler/frontend/user-file.ts) pulls in ts-morph, about 0.35 s and 80 MB to load. The
// library entry, loadSpeculator and the CLI's propose/compile/train paths must not load it unless a user's DSL
// file is traced (it is imported on demand then). Checked in a fresh Node process with a resolve hook.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const HOOK = 'data:text/javascript,import{registerHooks}from"node:module";registerHooks({resolve(s,c,n){if(s==="ts-morph")process.stderr.write("LOADED ts-morph\\n");return n(s,c)}})';

/** stderr of a fresh Node process that runs `code` (an ES module) and then writes DONE */
function run(code: string): string {
  const res = spawnSync(process.execPath, ['--import', HOOK, '--input-type=module', '-e', `${code}\nprocess.stderr.write("DONE\\n");`], { cwd: process.cwd(), encoding: 'utf8' });
  return res.stderr;
}

describe('the DSL front end loads only on demand', () => {
  it.each(['./index.ts', './runtime/speculator.ts', './bin/commands/propose.ts', './bin/commands/compile.ts', './runtime/train/arch.ts'])('importing %s does not load ts-morph', (m) => {
    const err = run(`await import(${JSON.stringify(m)});`);
    expect(err).toContain('DONE');
    expect(err).not.toContain('LOADED ts-morph');
  });

  it('tracing a DSL file loads it (the check can fail)', () => {
    const err = run(`await import('./compiler/frontend/user-file.ts');`);
    expect(err).toContain('LOADED ts-morph');
    expect(err).toContain('DONE');
  });
});
