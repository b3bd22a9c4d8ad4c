// Pearson's chi-square against expected probabilities, and the upper critical values we use. All tests that
// use it run on fixed seeds, so they are deterministic: the tolerance says how unlikely a false alarm would
// be for a fresh seed, not how often the test flakes (it cannot).
export function chiSquare(observed: number[], expectedProbs: number[]): { stat: number; df: number } {
  const n = observed.reduce((a, b) => a + b, 0);
  let stat = 0, df = -1;
  observed.forEach((o, i) => {
    const e = n * expectedProbs[i];
    if (e === 0) { if (o > 0) stat = Infinity; return; }
    stat += (o - e) ** 2 / e;
    df++;
  });
  return { stat, df };
}

// Upper 0.1% point of chi-square with df degrees of freedom (Wilson–Hilferty approximation).
export function chiSquareCritical(df: number, z = 3.090): number {
  const a = 2 / (9 * df);
  return df * (1 - a + z * Math.sqrt(a)) ** 3;
}
