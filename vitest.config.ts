import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    typecheck: { enabled: false },
    testTimeout: 60_000,
    pool: 'forks',
  },
});
