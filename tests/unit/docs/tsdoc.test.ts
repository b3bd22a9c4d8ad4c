// Every export of `arcticc` and `arcticc/dsl` has TSDoc (a /** */ comment on its declaration).
import { Node, Project } from 'ts-morph';
import { describe, expect, it } from 'vitest';

const project = new Project({ tsConfigFilePath: new URL('../../../tsconfig.json', import.meta.url).pathname, skipAddingFilesFromTsConfig: true });

function undocumented(entry: string): string[] {
  const sf = project.addSourceFileAtPath(new URL(`../../../${entry}`, import.meta.url).pathname);
  project.resolveSourceFileDependencies();
  const missing: string[] = [];
  for (const [name, decls] of sf.getExportedDeclarations()) {
    if (name === 'dsl') continue; // the namespace re-export of arcticc/dsl, checked as its own entry
    for (const d of decls) {
      const host = Node.isVariableDeclaration(d) ? d.getVariableStatement() : d;
      const docs = host && Node.isJSDocable(host) ? host.getJsDocs() : [];
      if (docs.length === 0) missing.push(`${name} (${d.getSourceFile().getFilePath().replace(/.*\/wt-[^/]+\/|.*\/main\//, '')}:${d.getStartLineNumber()})`);
    }
  }
  return missing;
}

describe('TSDoc on every export', () => {
  it.each(['index.ts', 'dsl/index.ts'])('%s', (entry) => {
    expect(undocumented(entry)).toEqual([]);
  });
});
