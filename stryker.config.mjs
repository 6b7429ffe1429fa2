// @ts-check
/**
 * Mutation testing (npm run test:mutation): StrykerJS mutates the modules that hold the ETL's rules
 * and runs the in-process tests of vitest.mutation.config.ts against each mutant. See the README's
 * "Mutation testing" section for how to run it, read it, and what it costs.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(fileURLToPath(import.meta.url));

// Stryker runs the tests in a copy of the project (.stryker-tmp/sandbox-…), where the real sample's
// usual place beside the project (../shared/data/sparkify-sample) does not exist: tell the tests
// where it is (test/helpers/files.ts), or they fall back to generated data and skip the sample tests.
process.env.SPARKIFY_SAMPLE_DIR ??= path.resolve(root, '../shared/data/sparkify-sample');

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts', related: true },
  // The TypeScript checker would mark mutants that do not compile as such instead of running them;
  // it is configured but off (measured in the README: on 2 cores it takes most of a core, and the
  // run takes longer). Turn it on with `npm run test:mutation -- --checkers typescript`.
  checkers: [],
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  tsconfigFile: 'tsconfig.json',
  coverageAnalysis: 'perTest',
  mutate: [
    'src/etl/transform/**/*.ts',
    'src/etl/read/records.ts',
    'src/etl/read/json-records.ts',
    'src/etl/read/row-buffer.ts',
    'src/etl/runs/manifest.ts',
    'src/etl/checks.ts',
    'src/queries/index.ts',
    'src/db/emulator/copy.ts',
    'src/db/redshift/copy.ts',
  ],
  // Only what the tests need is copied into the sandbox.
  ignorePatterns: ['dist', 'reports', 'docs', 'examples', 'bench-data', 'test-artifacts', '.sparkify', 'test/notebooks'],
  incremental: true,
  incrementalFile: 'reports/mutation/stryker-incremental.json',
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  thresholds: { high: 90, low: 80, break: null },
  concurrency: 2,
  timeoutMS: 10_000,
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
};
