import { type Kysely, type MigrationLockOptions, PostgresAdapter, sql } from 'kysely';

/**
 * Redshift speaks the PostgreSQL wire protocol but has no RETURNING and no advisory locks.
 * The migration lock is a table lock, held until the migrator's transaction ends.
 */
export class RedshiftAdapter extends PostgresAdapter {
  override get supportsReturning(): boolean {
    return false;
  }

  /** Locks the migrator's lock table for the rest of its transaction. */
  override async acquireMigrationLock(db: Kysely<any>, options: MigrationLockOptions): Promise<void> {
    const table = options.lockTableSchema
      ? sql.table(`${options.lockTableSchema}.${options.lockTable}`)
      : sql.table(options.lockTable);
    await sql`lock ${table}`.execute(db);
  }

  /** Nothing to do: Redshift releases table locks at commit or rollback. */
  override async releaseMigrationLock(): Promise<void> {}
}
