// The front door for user DSL files: type-check the file with ts-morph (errors as file:line:col),
// find its exported speculator definitions, then import and trace them.
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Project, ts } from 'ts-morph';
import type { DrafterOptions, Program } from '../../dsl/index.ts';
import { PACKAGE_TYPES, resolveArcticcToThisCopy } from './self-resolve.ts';

export class UserFileError extends Error {
  override name = 'UserFileError';
}

export interface ExportedDefinition {
  /** export name ('default' for the default export) */
  name: string;
  /** a traced Program value, or a function from options to a Program */
  kind: 'program' | 'factory';
  /** file:line of the declaration */
  site: string;
}

/** @types/node when the user's project (or this package) has it; without it a DSL file needs none. */
function nodeTypes(file: string): string[] {
  for (const from of [file, import.meta.filename]) {
    try { createRequire(from).resolve('@types/node/package.json'); return ['node']; } catch { /* not installed there */ }
  }
  return [];
}

// 'arcticc' and 'arcticc/dsl' type-check against the running copy, as they import it (self-resolve.ts)
const project = (file: string): Project => new Project({
  compilerOptions: {
    strict: true, noEmit: true, allowImportingTsExtensions: true, verbatimModuleSyntax: true,
    module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2023, skipLibCheck: true, types: nodeTypes(file),
    paths: Object.fromEntries(Object.entries(PACKAGE_TYPES).map(([k, v]) => [k, [v]])),
    baseUrl: dirname(file),
  },
});

/** Type-check `file` and list what it exports that can be compiled. Throws with every diagnostic. */
export function analyzeUserFile(file: string): ExportedDefinition[] {
  const path = resolve(file);
  const p = project(path);
  const sf = p.addSourceFileAtPathIfExists(path);
  if (!sf) throw new UserFileError(`${file}: no such file`);
  p.resolveSourceFileDependencies();
  const diags = p.getPreEmitDiagnostics().filter((d) => d.getSourceFile()?.getFilePath() === sf.getFilePath());
  if (diags.length) {
    const lines = diags.map((d) => {
      const line = d.getLineNumber() ?? 0;
      const msg = ts.flattenDiagnosticMessageText(d.compilerObject.messageText, '\n');
      return `${file}:${line}: ${msg}`;
    });
    throw new UserFileError(`${file} does not type-check (${diags.length} error${diags.length > 1 ? 's' : ''}):\n${lines.join('\n')}`);
  }
  const found: ExportedDefinition[] = [];
  for (const [name, decls] of sf.getExportedDeclarations()) {
    for (const d of decls) {
      const type = d.getType();
      const site = `${file}:${d.getStartLineNumber()}`;
      const isProgram = (t: typeof type): boolean => t.getProperty('graph') !== undefined && t.getProperty('dims') !== undefined && t.getProperty('sites') !== undefined;
      if (isProgram(type)) found.push({ name, kind: 'program', site });
      else {
        const sig = type.getCallSignatures()[0];
        if (sig && isProgram(sig.getReturnType())) found.push({ name, kind: 'factory', site });
      }
    }
  }
  if (found.length === 0) {
    throw new UserFileError(`${file}: exports no speculator definition (export a Program from defineProgram, or a function returning one)`);
  }
  return found;
}

/**
 * Import the file and produce the Program of one exported definition (default: the first). A factory is
 * called with `options`, or with no argument (its defaults) when options is undefined.
 */
export async function traceUserFile(file: string, pick: string | undefined, options: DrafterOptions | undefined): Promise<{ program: Program; definition: ExportedDefinition }> {
  const defs = analyzeUserFile(file);
  const def = pick ? defs.find((d) => d.name === pick) : defs[0];
  if (!def) throw new UserFileError(`${file}: no exported definition "${pick}" (found: ${defs.map((d) => d.name).join(', ')})`);
  resolveArcticcToThisCopy();
  const mod = await import(pathToFileURL(resolve(file)).href) as Record<string, unknown>;
  const value = mod[def.name];
  const program = def.kind === 'program' ? value as Program : (value as (o?: DrafterOptions) => Program)(options);
  return { program, definition: def };
}
