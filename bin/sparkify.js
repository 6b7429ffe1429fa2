#!/usr/bin/env node
// Runs the compiled CLI in dist/ (built by `npm run build`, which `npm ci` and `npm pack` run
// through the `prepare` script), so the installed command needs neither tsx nor TypeScript.
import { existsSync } from 'node:fs';

const main = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('sparkify: the compiled CLI (dist/) is missing: run `npm run build` in the project first.\n');
  process.exit(1);
}
await import(main.href);
