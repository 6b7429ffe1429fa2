import {
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  PostgresDriver,
  type PostgresDialectConfig,
  type QueryCompiler,
} from 'kysely';
import { RedshiftAdapter } from './adapter.js';
import { RedshiftQueryCompiler } from './query-compiler.js';
import { RedshiftIntrospector } from './introspector.js';

/**
 * Kysely for Amazon Redshift: PostgreSQL's wire protocol, driver and SQL compiler (pg), with
 * Redshift's own adapter (no RETURNING, table-lock migrations) and catalog introspector.
 * (kysely-redshift is not on the npm registry, hence our own.)
 */
export class RedshiftDialect implements Dialect {
  readonly #config: PostgresDialectConfig;

  constructor(config: PostgresDialectConfig) {
    this.#config = config;
  }

  /** pg's driver: Redshift speaks the PostgreSQL protocol. */
  createDriver(): Driver {
    return new PostgresDriver(this.#config);
  }

  /** PostgreSQL's compiler (identifiers in double quotes, $n parameters), with literal LIMIT/OFFSET counts. */
  createQueryCompiler(): QueryCompiler {
    return new RedshiftQueryCompiler();
  }

  /** Redshift's capabilities and migration lock. */
  createAdapter(): DialectAdapter {
    return new RedshiftAdapter();
  }

  /** Redshift's catalog reader. */
  createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return new RedshiftIntrospector(db);
  }
}
