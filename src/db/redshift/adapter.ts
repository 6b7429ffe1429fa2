import { type Kysely, type MigrationLockOptions, PostgresAdapter, sql } from 'kysely';

/**
 * Redshift speaks the PostgreSQL wire protocol but has no RETURNING and no advisory locks.
 * The migration lock is a table lock, which lasts only as long as a transaction: Kysely takes the
 * lock before it opens the migrations' transaction, so we open the transaction here; Kysely's own
 * BEGIN then joins it (a warning, not an error) and its COMMIT or ROLLBACK ends it, lock included
 * (https://docs.aws.amazon.com/redshift/latest/dg/r_LOCK.html).
 */
export class RedshiftAdapter extends PostgresAdapter {
  override get supportsReturning(): boolean {
    return false;
  }

  /** Opens a transaction and locks the migrator's lock table in it; a second migrator waits here. */
  override async acquireMigrationLock(db: Kysely<any>, options: MigrationLockOptions): Promise<void> {
    const table = options.lockTableSchema
      ? sql.table(`${options.lockTableSchema}.${options.lockTable}`)
      : sql.table(options.lockTable);
    await sql`begin`.execute(db);
    await sql`lock ${table}`.execute(db);
  }

  /** Ends the transaction if the migrations left it open (when they ran none); else a no-op warning. */
  override async releaseMigrationLock(db: Kysely<any>): Promise<void> {
    await sql`commit`.execute(db);
  }
}
