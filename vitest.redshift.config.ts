import { defineConfig } from 'vitest/config';

// npm run test:redshift: the opt-in suite against a real cluster (see test/redshift/live.test.ts).
export default defineConfig({
  test: { include: ['test/redshift/**/*.test.ts'], testTimeout: 1_800_000 },
});
