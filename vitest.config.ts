import { defineConfig } from 'vitest/config';

const here = (p: string): string => new URL(p, import.meta.url).pathname;

export default defineConfig({
  // user drafter files and doc examples import the package by name; in the repo that is the sources
  resolve: {
    alias: [
      { find: /^arcticc$/, replacement: here('./index.ts') },
      { find: /^arcticc\/dsl$/, replacement: here('./dsl/index.ts') },
    ],
  },
  test: {
    include: ['tests/**/*.test.ts'],
    typecheck: { enabled: false },
    testTimeout: 60_000,
    pool: 'forks',
  },
});
