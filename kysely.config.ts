import { defineConfig } from 'kysely-ctl';
import { openWarehouse } from './src/db/connection.js';

// kysely-ctl runs the migrations in ./migrations against the configured target
// (embedded by default, DATABASE_URL when set) and destroys the instance when done,
// which also stops an embedded server it started.
export default defineConfig({
  kysely: () => openWarehouse({ log: (line) => console.error(line) }).db,
  migrations: { migrationFolder: 'migrations' },
});
