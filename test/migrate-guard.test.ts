import { type Kysely, sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { droppedBy } from '../src/cli/migrate-guard.js';

describe('droppedBy', () => {
  it('finds every table and column a down drops, in any schema, several columns in one ALTER TABLE, and tables dropped by raw SQL', async () => {
    const down = async (db: Kysely<any>) => {
      await db.schema.alterTable('users').dropColumn('a').dropColumn('b').execute();
      await db.schema.withSchema('audit').alterTable('log').dropColumn('c').execute();
      await db.schema.alterTable('users').addColumn('d', 'integer').execute();
      await db.schema.dropTable('x').ifExists().execute();
      await db.schema.withSchema('audit').dropTable('y').execute();
      await db.schema.dropIndex('i').execute();
      await sql`drop table if exists "audit"."z"`.execute(db);
    };
    expect(await droppedBy({ up: async () => {}, down })).toEqual({
      tables: [{ table: 'x' }, { schema: 'audit', table: 'y' }, { schema: 'audit', table: 'z' }],
      columns: [
        { table: 'users', column: 'a' },
        { table: 'users', column: 'b' },
        { schema: 'audit', table: 'log', column: 'c' },
      ],
    });
  });
});
