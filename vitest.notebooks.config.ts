import { defineConfig } from 'vitest/config';

// `npm run test:notebooks`: executes examples/*.ipynb on Deno's Jupyter kernel (needs Debian's
// jupyter-nbconvert, python3-nbclient and jupyter-client; .ci/run installs them).
export default defineConfig({
  test: {
    include: ['test/notebooks/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});
