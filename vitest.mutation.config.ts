import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The test files of a mutation run (npm run test:mutation, see stryker.config.mjs): only those that
 * run the mutated modules in the test process, quickest first. Stryker stops a mutant's run at the
 * first failing test, so a quick file that kills it saves the slow ones. Left out: the CLI,
 * crash-safety and other files that run the code in child processes (mutants are active only in the
 * test process, so they kill nothing and cost minutes), files that test other modules, and files
 * that load the warehouse in beforeAll (checks.test.ts, etl-sample.test.ts): code run outside a test
 * makes its mutants "static", which Stryker tests against every related file; checks-rules.test.ts
 * and read-edge-cases.test.ts test the same rules with their loads inside the tests.
 */
export const MUTATION_TEST_FILES = [
  'test/row-buffer.test.ts',
  'test/json-records.test.ts',
  'test/records.test.ts',
  'test/read-edge-cases.test.ts',
  'test/read-files.test.ts',
  'test/emulator-copy.test.ts',
  'test/queries.test.ts',
  'test/manifest.test.ts',
  'test/helper-types.test.ts',
  'test/checks-rules.test.ts',
  'test/transform-rules.test.ts',
  'test/transform-winners.test.ts',
  'test/bulk-load.test.ts',
  'test/generator.test.ts',
  'test/redshift-emulator.test.ts',
];

/** Runs the files in MUTATION_TEST_FILES order (Vitest's own order puts the slowest first). */
class ListedOrder extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (f: TestSpecification) => MUTATION_TEST_FILES.findIndex((t) => f.moduleId.endsWith(t));
    return [...files].sort((a, b) => rank(a) - rank(b));
  }
}

export default defineConfig({
  test: {
    include: MUTATION_TEST_FILES,
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    sequence: { sequencer: ListedOrder },
  },
});
