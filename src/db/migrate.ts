import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type Kysely, type Migration, type MigrationProvider, type MigrationResultSet, Migrator } from 'kysely';

/** The project's migrations folder, wherever this module is run from. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations', import.meta.url));

/**
 * Loads the migration files by name order. The import runs from this module (not from inside
 * Kysely) so that whatever loads our TypeScript (tsx, vitest) loads the migrations too.
 */
const projectMigrations: MigrationProvider = {
  async getMigrations() {
    const files = (await fs.readdir(MIGRATIONS_DIR)).filter((f) => /\.[cm]?[jt]s$/.test(f) && !f.endsWith('.d.ts')).sort();
    const loaded = await Promise.all(
      files.map(async (f) => [f.replace(/\.[^.]+$/, ''), (await import(pathToFileURL(path.join(MIGRATIONS_DIR, f)).href)) as Migration] as const),
    );
    return Object.fromEntries(loaded);
  },
};

/** Kysely's migrator over the project's migrations: the same files and table kysely-ctl uses. */
export function migrator(db: Kysely<any>): Migrator {
  return new Migrator({ db, provider: projectMigrations });
}

/** Applies pending migrations; throws with the failing migration's name and error. */
export async function migrateToLatest(db: Kysely<any>): Promise<string[]> {
  const result = await migrator(db).migrateToLatest();
  // Groups are server-wide: a migration of another database may create ours between our check and
  // our CREATE. The transaction rolled back; the second attempt finds the group.
  if (isConcurrentGroupCreation(result.error)) return unwrap(await migrator(db).migrateToLatest());
  return unwrap(result);
}

function isConcurrentGroupCreation(error: unknown): boolean {
  const e = error as { code?: string; message?: string } | undefined;
  return e?.code === '42710' || (e?.code === '23505' && /pg_authid/.test(e.message ?? ''));
}

/** Reverts the most recent migration. */
export async function migrateDown(db: Kysely<any>): Promise<string[]> {
  return unwrap(await migrator(db).migrateDown());
}

function unwrap({ error, results }: MigrationResultSet): string[] {
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    // No migration ran (e.g. the connection failed): the error is about that, not about a migration.
    if (!failed) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`Migration ${failed} failed: ${reason}`, { cause: error });
  }
  return (results ?? []).map((r) => `${r.direction === 'Up' ? 'applied' : 'reverted'} ${r.migrationName}`);
}
