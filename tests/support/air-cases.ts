// Pass tests as files (Triton/MLIR style): `// RUN: passes=a,b` at the top (a case may override it),
// then cases separated by `// -----`, each an input graph followed by the CHECK lines for its output.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseGraph } from '../../compiler/ir/parse/index.ts';
import { printGraph } from '../../compiler/ir/print.ts';
import { runPipeline } from '../../compiler/pipeline.ts';
import { fileCheck } from './filecheck.ts';

export interface AirCase {
  readonly file: string;
  /** the case text, preceded by blank lines so that line numbers are those of the file */
  readonly text: string;
  readonly passes: string;
  readonly name: string;
}

const RUN = /^\s*\/\/\s*RUN:\s*passes=(\S*)\s*$/m;
const SEPARATOR = /^\s*\/\/ -----\s*$/;

export function readAirCases(file: string): AirCase[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const header = RUN.exec(lines.join('\n'))?.[1];
  const chunks: { start: number; lines: string[] }[] = [{ start: 0, lines: [] }];
  lines.forEach((l, i) => {
    if (SEPARATOR.test(l)) chunks.push({ start: i + 1, lines: [] });
    else chunks[chunks.length - 1].lines.push(l);
  });
  return chunks.filter((c) => c.lines.some((l) => /^\s*graph\b/.test(l))).map((c, k) => {
    const body = c.lines.join('\n');
    const passes = RUN.exec(body)?.[1] ?? header;
    if (passes === undefined) throw new Error(`${file}:${c.start + 1}: no "// RUN: passes=..." line for this case or the file`);
    const name = /^\s*graph\s+([^\s(]+)/m.exec(body)?.[1] ?? `case ${k + 1}`;
    return { file, text: '\n'.repeat(c.start) + body, passes, name: `${name} (line ${c.start + 1})` };
  });
}

export const airFiles = (dir: string): string[] => readdirSync(dir).filter((f) => f.endsWith('.air')).sort().map((f) => join(dir, f));

/** Parse, run the passes with verification after each, print, and FileCheck the output against the case. */
export function runAirCase(c: AirCase): string {
  const out = printGraph(runPipeline(parseGraph(c.text, c.file), c.passes, { verify: true }));
  fileCheck(out, c.text, { checkFile: c.file, inputFile: `output of passes=${c.passes}` });
  return out;
}
