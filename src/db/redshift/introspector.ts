import {
  type DatabaseIntrospector,
  type DatabaseMetadata,
  type DatabaseMetadataOptions,
  DEFAULT_MIGRATION_LOCK_TABLE,
  DEFAULT_MIGRATION_TABLE,
  type Kysely,
  type SchemaMetadata,
  sql,
  type TableMetadata,
} from 'kysely';

interface RawColumn {
  column: string;
  not_null: boolean;
  has_default: boolean;
  table: string;
  table_type: string;
  schema: string;
  type: string;
  type_schema: string;
  auto_incrementing: boolean | null;
}

/**
 * Reads tables and columns from Redshift's catalog. Kysely's Postgres introspector calls
 * pg_get_serial_sequence, which Redshift lacks; an identity column shows instead as a default
 * expression naming IDENTITY. The query also runs on PostgreSQL, which lets tests run it for real
 * (https://docs.aws.amazon.com/redshift/latest/dg/c_unsupported-postgresql-functions.html).
 */
export class RedshiftIntrospector implements DatabaseIntrospector {
  readonly #db: Kysely<any>;

  constructor(db: Kysely<any>) {
    this.#db = db;
  }

  /** Every schema. */
  async getSchemas(): Promise<SchemaMetadata[]> {
    const rows = await this.#db.selectFrom('pg_catalog.pg_namespace').select('nspname').execute();
    return rows.map((r) => ({ name: r.nspname as string }));
  }

  /** Tables and views of the user's schemas, with their columns in order. */
  async getTables(options: DatabaseMetadataOptions = { withInternalKyselyTables: false }): Promise<TableMetadata[]> {
    let query = this.tablesQuery();
    if (!options.withInternalKyselyTables) {
      query = query.where('c.relname', '!=', DEFAULT_MIGRATION_TABLE).where('c.relname', '!=', DEFAULT_MIGRATION_LOCK_TABLE);
    }
    return parse((await query.execute()) as RawColumn[]);
  }

  /** Everything the introspector knows. */
  async getMetadata(options?: DatabaseMetadataOptions): Promise<DatabaseMetadata> {
    return { tables: await this.getTables(options) };
  }

  /** The catalog query (exposed for tests of the SQL it compiles to). */
  tablesQuery() {
    return this.#db
      .selectFrom('pg_catalog.pg_attribute as a')
      .innerJoin('pg_catalog.pg_class as c', 'a.attrelid', 'c.oid')
      .innerJoin('pg_catalog.pg_namespace as ns', 'c.relnamespace', 'ns.oid')
      .innerJoin('pg_catalog.pg_type as typ', 'a.atttypid', 'typ.oid')
      .innerJoin('pg_catalog.pg_namespace as dtns', 'typ.typnamespace', 'dtns.oid')
      .leftJoin('pg_catalog.pg_attrdef as d', (join) => join.onRef('d.adrelid', '=', 'a.attrelid').onRef('d.adnum', '=', 'a.attnum'))
      .select([
        'a.attname as column',
        'a.attnotnull as not_null',
        'a.atthasdef as has_default',
        'c.relname as table',
        'c.relkind as table_type',
        'ns.nspname as schema',
        'typ.typname as type',
        'dtns.nspname as type_schema',
        sql<boolean>`pg_get_expr(d.adbin, d.adrelid) like '%identity%'`.as('auto_incrementing'),
      ])
      .where('c.relkind', 'in', ['r', 'v'])
      .where('ns.nspname', '!~', '^pg_')
      .where('ns.nspname', '!=', 'information_schema')
      .where(sql<boolean>`has_schema_privilege(ns.nspname, 'USAGE')`)
      .where('a.attnum', '>=', 0)
      .where('a.attisdropped', '!=', true)
      .orderBy('ns.nspname')
      .orderBy('c.relname')
      .orderBy('a.attnum');
  }
}

function parse(columns: RawColumn[]): TableMetadata[] {
  const tables = new Map<string, TableMetadata & { columns: TableMetadata['columns'][number][] }>();
  for (const c of columns) {
    const key = `${c.schema}.${c.table}`;
    let table = tables.get(key);
    if (!table) {
      table = { name: c.table, schema: c.schema, isView: c.table_type === 'v', columns: [] };
      tables.set(key, table);
    }
    table.columns.push({
      name: c.column,
      dataType: c.type,
      dataTypeSchema: c.type_schema,
      isNullable: !c.not_null,
      hasDefaultValue: c.has_default,
      isAutoIncrementing: c.auto_incrementing === true,
    });
  }
  return [...tables.values()];
}
