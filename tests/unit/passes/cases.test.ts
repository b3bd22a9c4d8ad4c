// Runs every .air file in cases/: each `// -----` case is parsed, run through its `// RUN: passes=`
// pipeline with the verifier after every pass, printed, and FileChecked against its CHECK lines.
import { describe, it } from 'vitest';
import { airFiles, readAirCases, runAirCase } from '../../support/air-cases.ts';

const dir = new URL('./cases/', import.meta.url).pathname;

for (const file of airFiles(dir)) {
  describe(file.slice(dir.length), () => {
    for (const c of readAirCases(file)) it(c.name, () => { runAirCase(c); });
  });
}
