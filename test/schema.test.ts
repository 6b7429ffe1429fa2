import path from 'node:path';
import { sql } from 'kysely';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateDown, migrateToLatest, migrator } from '../src/db/migrate.js';
import { EVENT_SOURCE, LINEAGE_COLUMNS, SONG_SOURCE } from '../src/types/raw.js';
import { openTestWarehouse } from './helpers/db.js';

type Family = 'number' | 'string' | 'date' | 'boolean';
interface ColumnShape {
  family: Family;
  nullable: boolean;
}

/** Reads the Database interface of src/types/database.ts with the TypeScript compiler: table → column → shape. */
function interfaceSchema(): Record<string, Record<string, ColumnShape>> {
  const file = path.resolve(import.meta.dirname, '../src/types/database.ts');
  const program = ts.createProgram([file], { strict: true, skipLibCheck: true });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(file)!;
  const dbInterface = source.statements.find((s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === 'Database')!;
  const familyOf = (type: ts.Type): Family => {
    const text = checker.typeToString(type);
    if (type.flags & ts.TypeFlags.NumberLike) return 'number';
    if (type.flags & ts.TypeFlags.StringLike) return 'string';
    if (type.flags & ts.TypeFlags.BooleanLike) return 'boolean';
    if (text === 'Date') return 'date';
    throw new Error(`unmapped type ${text}`);
  };
  const schema: Record<string, Record<string, ColumnShape>> = {};
  for (const tableProp of checker.getTypeAtLocation(dbInterface).getProperties()) {
    const tableType = checker.getTypeOfSymbolAtLocation(tableProp, dbInterface);
    schema[tableProp.name] = {};
    for (const col of tableType.getProperties()) {
      let type = checker.getTypeOfSymbolAtLocation(col, dbInterface);
      // Generated<T> is ColumnType<T, T | undefined, T>: its select type is the first member.
      const selectType = type.getProperty('__select__');
      if (selectType) type = checker.getTypeOfSymbolAtLocation(selectType, dbInterface);
      const members = type.isUnion() ? type.types : [type];
      const nonNull = members.filter((t) => !(t.flags & (ts.TypeFlags.Null | ts.TypeFlags.Undefined)));
      const families = [...new Set(nonNull.map(familyOf))];
      expect(families, `${tableProp.name}.${col.name}`).toHaveLength(1);
      schema[tableProp.name]![col.name] = { family: families[0]!, nullable: nonNull.length < members.length };
    }
  }
  return schema;
}

function familyOfSqlType(dataType: string): Family {
  if (/int|double|real|numeric|decimal/.test(dataType)) return 'number';
  if (/char|text/.test(dataType)) return 'string';
  if (/timestamp|date/.test(dataType)) return 'date';
  if (/bool/.test(dataType)) return 'boolean';
  throw new Error(`unmapped SQL type ${dataType}`);
}

describe('schema', () => {
  let wh: Awaited<ReturnType<typeof openTestWarehouse>>;
  beforeAll(async () => {
    wh = await openTestWarehouse();
  });
  afterAll(() => wh.close());

  async function databaseSchema() {
    const { rows } = await sql<{ table_name: string; column_name: string; data_type: string; is_nullable: string }>`
      select table_name, column_name, data_type, is_nullable from information_schema.columns
      where table_schema = 'public' and table_name not like 'kysely_%'`.execute(wh.db);
    const schema: Record<string, Record<string, ColumnShape>> = {};
    for (const r of rows) {
      (schema[r.table_name] ??= {})[r.column_name] = { family: familyOfSqlType(r.data_type), nullable: r.is_nullable === 'YES' };
    }
    return schema;
  }

  it('the migrated database and the TypeScript interfaces agree on tables, columns, types and nullability', async () => {
    expect(await databaseSchema()).toEqual(interfaceSchema());
  });

  it('the staging field specs cover exactly the staging columns', async () => {
    const db = await databaseSchema();
    for (const source of [EVENT_SOURCE, SONG_SOURCE]) {
      expect([...source.fields.map((f) => f.column), ...LINEAGE_COLUMNS].sort()).toEqual(Object.keys(db[source.table]!).sort());
      for (const f of source.fields) {
        expect(db[source.table]![f.column]!.family, f.column).toBe(f.type === 'string' ? 'string' : 'number');
        expect(db[source.table]![f.column]!.nullable, f.column).toBe(!f.required);
      }
    }
  });

  it('sizes the staging VARCHARs as the field specs say', async () => {
    const { rows } = await sql<{ table_name: string; column_name: string; n: number }>`
      select table_name, column_name, character_maximum_length as n from information_schema.columns
      where table_name like 'staging_%' and data_type = 'character varying'`.execute(wh.db);
    for (const source of [EVENT_SOURCE, SONG_SOURCE]) {
      for (const f of source.fields.filter((f) => f.maxBytes)) {
        expect(rows.find((r) => r.table_name === source.table && r.column_name === f.column)?.n, f.column).toBe(f.maxBytes);
      }
    }
  });

  it('turns sort intent and keys into indexes on PostgreSQL', async () => {
    const { rows } = await sql<{ indexname: string }>`select indexname from pg_indexes where schemaname = 'public' and indexname not like 'kysely_%' order by 1`.execute(wh.db);
    expect(rows.map((r) => r.indexname)).toEqual([
      'artists_pkey',
      'etl_file_queue_pkey',
      'etl_file_stats_pkey',
      'etl_run_files_pkey',
      'etl_runs_pkey',
      'etl_runs_started_at_idx',
      'load_errors_run_id_file_line_idx',
      'loaded_files_pkey',
      'songplays_natural_key',
      'songplays_pkey',
      'songs_pkey',
      'time_pkey',
      'users_pkey',
    ]);
  });

  it('every migration has a working down', async () => {
    const all = await migrator(wh.db).getMigrations();
    for (let i = 0; i < all.length; i++) await migrateDown(wh.db);
    const { rows } = await sql<{ n: number }>`
      select count(*) as n from information_schema.tables where table_schema = 'public' and table_name not like 'kysely_%'`.execute(wh.db);
    expect(rows[0]!.n).toBe(0);
    expect(await migrateToLatest(wh.db)).toHaveLength(all.length);
  });
});
