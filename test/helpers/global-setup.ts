import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbedded } from '../../src/db/embedded.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Admin URL of the embedded server the whole run shares. */
    adminUrl: string;
  }
}

/** Starts one embedded PostgreSQL for the test run; each test file creates its own database in it. */
export default async function setup(project: TestProject) {
  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'sparkify-test-'));
  await fs.chmod(home, 0o755); // the server may run as the "postgres" OS user
  const server = await startEmbedded(home);
  const url = new URL(`postgres://127.0.0.1:${server.port}/${server.database}`);
  url.username = server.user;
  url.password = server.password;
  project.provide('adminUrl', url.toString());
  return async () => {
    await server.stop();
    await fs.rm(home, { recursive: true, force: true });
  };
}
