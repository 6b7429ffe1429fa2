import { finished } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { type CopyColumn, CopyError, type LoadError, parseCopy, readCopyInput } from './copy.js';
import { DdlError, type TableLayout, translateDdl } from './ddl.js';
import { LocalS3 } from './local-s3.js';
import { RedshiftUnsupportedError, refuseUnsupported, skeleton } from './sql-rules.js';
import { mapCode } from './sql-text.js';
import { createSystemTables, EMULATOR_SCHEMA, type RedshiftFlavour } from './system-tables.js';

/** How the emulation behaves: where its S3 is, which Redshift it is, the cluster's region. */
export interface EmulatorOptions {
  s3Root: string;
  flavour: RedshiftFlavour;
  region: string;
  /**
   * PG_LAST_COPY_ID's page says both that the id "is updated" when a COPY fails on its data (so
   * STL_LOAD_ERRORS can be read with it) and that it "is not updated" if "the COPY transaction is
   * rolled back". 'kept' (default) keeps a failed COPY's id through the rollback; 'restored' takes
   * the second sentence literally and restores the id the session had when its transaction began.
   * The ETL must work under both: the tests run it under both.
   */
  copyIdOnRollback?: 'kept' | 'restored';
}

/** Per session, as Redshift keeps them: the latest COPY's id and row count (and both when the transaction began). */
interface Session {
  lastCopyId: number;
  lastCopyCount: number;
  atBegin?: { lastCopyId: number; lastCopyCount: number };
}

const DG = 'https://docs.aws.amazon.com/redshift/latest/dg';
const s = EMULATOR_SCHEMA;

/**
 * A pg pool that behaves as Amazon Redshift: every statement a caller sends (through Kysely or
 * directly) is refused as Redshift would refuse it, translated where Redshift's DDL differs, or
 * emulated (COPY from S3, the load-error system views, PG_LAST_COPY_ID/COUNT) over the PostgreSQL
 * behind `base`. Statements the emulation sends for itself go straight to PostgreSQL.
 */
export class RedshiftEmulatorPool {
  readonly s3: LocalS3;
  readonly #base: pg.Pool;
  readonly #side: pg.Pool;
  readonly #admin?: pg.Pool;
  readonly #options: EmulatorOptions;
  readonly #sessions = new WeakMap<pg.PoolClient, Session>();
  #ready?: Promise<void>;

  /**
   * @param base the sessions' pool (logged in as the user Redshift would see)
   * @param admin a superuser pool for the emulation's own tables, when the sessions are not superusers
   */
  constructor(base: pg.Pool, options: EmulatorOptions, admin?: pg.Pool) {
    this.#base = base;
    this.#options = options;
    this.s3 = new LocalS3(options.s3Root);
    // System-table rows are written outside the caller's transaction, as Redshift's are: a failed
    // COPY's rejects must survive its rollback.
    const { options: baseOptions } = (admin ?? base) as unknown as { options: pg.PoolConfig };
    // (pg keeps the password out of the options' enumerable keys, so it is copied by name.)
    this.#side = new pg.Pool({ ...baseOptions, password: baseOptions.password, max: 1 });
    this.#side.on('error', () => {});
    this.#admin = admin;
  }

  /** A session: a pooled PostgreSQL connection whose queries go through the emulation. */
  async connect(): Promise<pg.PoolClient> {
    this.#ready ??= this.#side.connect().then(async (c) => {
      try {
        await createSystemTables(c);
      } finally {
        c.release();
      }
    });
    // A failed setup (say, the server was not up yet) is tried again by the next session.
    await this.#ready.catch((error) => {
      this.#ready = undefined;
      throw error;
    });
    const client = await this.#base.connect();
    if (!this.#sessions.has(client)) this.#sessions.set(client, { lastCopyId: -1, lastCopyCount: 0 });
    const session = this.#sessions.get(client)!;
    const raw = client.query.bind(client) as (...args: unknown[]) => Promise<pg.QueryResult>;
    const emulated = Object.create(client) as pg.PoolClient;
    emulated.query = ((config: unknown, values?: unknown[]) => {
      const text = typeof config === 'string' ? config : (config as { text?: string }).text;
      if (typeof config !== 'string' && typeof (config as { submit?: unknown }).submit === 'function') {
        // Streams and cursors carry their own statement: hold COPY … FROM STDIN to Redshift's rules.
        if (text && /^copy\b/i.test(skeleton(text))) refuseUnsupported(text);
        return raw(config, values);
      }
      // A query config (e.g. the extended protocol for `sparkify query`) goes through the emulation too.
      const send = typeof config === 'string' ? raw : (sql: string, v?: unknown[]) => raw({ ...(config as object), text: sql }, v);
      return this.#run(client, session, send, raw, text!, values ?? (config as { values?: unknown[] }).values);
    }) as pg.PoolClient['query'];
    emulated.release = (error?: Error | boolean) => client.release(error);
    return emulated;
  }

  /** One statement outside any transaction, as pg's pool.query does. */
  async query(text: string, values?: unknown[]): Promise<pg.QueryResult> {
    const client = await this.connect();
    try {
      return await client.query(text, values);
    } finally {
      client.release();
    }
  }

  /** Registers a listener on the pool behind (pg's pool events). */
  on(event: string, listener: (...args: unknown[]) => void): this {
    this.#base.on(event as 'error', listener);
    return this;
  }

  /** Ends both pools (and so an embedded server started with the pool behind). */
  async end(): Promise<void> {
    await this.#side.end().catch(() => {});
    await this.#base.end();
    // The admin pool last: ending it may stop the embedded server the others used.
    await this.#admin?.end();
  }

  async #run(
    client: pg.PoolClient,
    session: Session,
    send: (sql: string, values?: unknown[]) => Promise<pg.QueryResult>,
    raw: (...args: unknown[]) => Promise<pg.QueryResult>,
    text: string,
    values?: unknown[],
  ): Promise<pg.QueryResult> {
    refuseUnsupported(text);
    const shape = skeleton(text);
    if (/^copy\b/.test(shape)) return this.#copy(client, session, raw, text);

    this.#transactionBoundary(client, session, shape);
    const sql = mapCode(this.#systemViews(text, shape), (code) =>
      code
        // https://docs.aws.amazon.com/redshift/latest/dg/PG_LAST_COPY_ID.html, PG_LAST_COPY_COUNT.html: per session.
        .replace(/\bpg_last_copy_id\s*\(\s*\)/gi, `cast(${session.lastCopyId} as integer)`)
        .replace(/\bpg_last_copy_count\s*\(\s*\)/gi, `cast(${session.lastCopyCount} as bigint)`),
    );

    if (/^truncate\b/.test(shape) && client.getTransactionStatus() !== 'I') {
      // "TRUNCATE commits the transaction in which it is run" (https://docs.aws.amazon.com/redshift/latest/dg/r_TRUNCATE.html):
      // emulated, not refused, so code that relies on rolling it back fails here as on a cluster.
      await raw('commit');
    }

    const ddl = translateDdl(sql);
    if (ddl?.noop) {
      await this.#checkLayoutColumns(raw, ddl.layout!);
      await this.#saveLayout(raw, ddl.layout!, true);
      return { command: 'ALTER', rowCount: null, rows: [], fields: [], oid: 0 };
    }
    const result = await send(ddl ? ddl.sql : sql, values);
    if (ddl?.layout) {
      try {
        await this.#checkLayoutColumns(raw, ddl.layout);
      } catch (error) {
        await raw(`drop table if exists ${pg.escapeIdentifier(ddl.layout.table)}`);
        throw error;
      }
      if (!ddl.temporary) await this.#saveLayout(raw, ddl.layout, false);
    }
    if (/^merge\b/.test(shape)) {
      // Redshift documents no command tag (row count) for MERGE (https://docs.aws.amazon.com/redshift/latest/dg/r_MERGE.html):
      // the emulation gives none, so nothing can come to depend on one.
      return { ...result, command: '', rowCount: null };
    }
    return result;
  }

  /** Points the emulated system views at the emulation's schema; STL views exist only on a provisioned cluster. */
  #systemViews(text: string, shape: string): string {
    if (/\bstl_\w+/.test(shape) && this.#options.flavour === 'serverless') {
      const view = shape.match(/\bstl_\w+/)![0];
      throw Object.assign(
        new Error(`relation "${view}" does not exist (Redshift Serverless has no STL views; use SYS_LOAD_ERROR_DETAIL: ${DG}/c_intro_system_views.html)`),
        { code: '42P01' },
      );
    }
    return mapCode(text, (code) => code.replace(/\b(sys_load_error_detail|stl_load_errors|svv_table_info)\b/gi, (name) => `${s}.${name.toLowerCase()}`));
  }

  /** Notes where a transaction begins and, when the emulation says so, restores the COPY id at its rollback. */
  #transactionBoundary(client: pg.PoolClient, session: Session, shape: string): void {
    if (/^(begin|start transaction)\b/.test(shape) && client.getTransactionStatus() === 'I') {
      session.atBegin = { lastCopyId: session.lastCopyId, lastCopyCount: session.lastCopyCount };
    } else if (/^(rollback|abort)\b(?! to)/.test(shape) && session.atBegin) {
      if (this.#options.copyIdOnRollback === 'restored') Object.assign(session, session.atBegin);
      session.atBegin = undefined;
    } else if (/^(commit|end)\b/.test(shape)) {
      session.atBegin = undefined;
    }
  }

  /** A DISTKEY or SORTKEY must name a column of its table. */
  async #checkLayoutColumns(raw: (...args: unknown[]) => Promise<pg.QueryResult>, layout: TableLayout): Promise<void> {
    const named = [...(layout.distkey ? [layout.distkey] : []), ...(layout.sortkey ?? [])];
    if (!named.length) return;
    const { rows } = await raw(
      `select attname from pg_attribute where attrelid = to_regclass($1) and attnum > 0 and not attisdropped`,
      [pg.escapeIdentifier(layout.table)],
    );
    const columns = new Set(rows.map((r: { attname: string }) => r.attname));
    const missing = named.find((c) => !columns.has(c));
    if (missing) throw new DdlError(`column "${missing}" named in DISTKEY or SORTKEY does not exist in table "${layout.table}"`);
  }

  async #saveLayout(raw: (...args: unknown[]) => Promise<pg.QueryResult>, layout: TableLayout, alter: boolean): Promise<void> {
    if (alter) {
      const { rowCount } = await raw(
        `update ${s}.table_layout set diststyle = coalesce($2, diststyle), distkey = case when $2 is null then distkey else $3 end,
           sortkey = case when $5 then $4 else sortkey end where table_name = $1`,
        [layout.table, layout.diststyle ?? null, layout.distkey ?? null, layout.sortkey ?? null, layout.sortkey !== undefined],
      );
      if (!rowCount) throw Object.assign(new Error(`relation "${layout.table}" does not exist`), { code: '42P01' });
      return;
    }
    await raw(
      `insert into ${s}.table_layout (table_name, diststyle, distkey, sortkey) values ($1, $2, $3, $4)
       on conflict (table_name) do update set diststyle = excluded.diststyle, distkey = excluded.distkey, sortkey = excluded.sortkey`,
      [layout.table, layout.diststyle ?? 'AUTO', layout.distkey ?? null, layout.sortkey ?? null],
    );
  }

  /** COPY … FROM 's3://…': read and convert the input, record rejects, load or fail as MAXERROR says. */
  async #copy(client: pg.PoolClient, session: Session, raw: (...args: unknown[]) => Promise<pg.QueryResult>, text: string): Promise<pg.QueryResult> {
    const copy = parseCopy(text);
    const columns = await this.#columns(raw, copy.table, copy.columns);
    const outcome = await readCopyInput(this.s3, copy, columns, this.#options.region);

    // The COPY has begun loading: from here its id is the session's latest, even if it fails.
    // (The table id is read on the caller's session, which sees its own uncommitted and temporary tables.)
    const table = await raw(`select coalesce(to_regclass($1)::oid::integer, 0) as tbl`, [pg.escapeIdentifier(copy.table)]);
    const { rows } = await this.#side.query<{ id: string }>(`select nextval('${s}.query_ids') as id`);
    const queryId = Number(rows[0]!.id);
    session.lastCopyId = queryId;
    session.lastCopyCount = 0;
    if (outcome.errors.length) await this.#recordErrors(client, queryId, Number(table.rows[0]!.tbl), outcome.errors);

    if (outcome.failed) {
      const view = this.#options.flavour === 'provisioned' ? 'stl_load_errors' : 'sys_load_error_detail';
      await raw(`select ${s}.fail($1)`, [`Load into table '${copy.table}' failed.  Check '${view}' system table for details.`]);
    }
    if (outcome.rows.length) {
      const stream = (client as unknown as { query: (s: unknown) => NodeJS.WritableStream }).query(
        copyFrom(`copy ${pg.escapeIdentifier(copy.table)} (${columns.map((c) => pg.escapeIdentifier(c.name)).join(', ')}) from stdin`),
      ) as unknown as import('node:stream').Writable;
      const done = finished(stream);
      for (let i = 0; i < outcome.rows.length; i += 10_000) stream.write(outcome.rows.slice(i, i + 10_000).join(''));
      stream.end();
      await done;
    }
    session.lastCopyCount = outcome.rows.length;
    return { command: 'COPY', rowCount: outcome.rows.length, rows: [], fields: [], oid: 0 };
  }

  async #columns(raw: (...args: unknown[]) => Promise<pg.QueryResult>, table: string, names?: string[]): Promise<CopyColumn[]> {
    const { rows } = await raw(
      `select column_name as name, data_type as type, character_maximum_length as length, is_nullable = 'YES' as nullable
       from information_schema.columns where table_name = $1 and table_schema = any (current_schemas(true)) order by ordinal_position`,
      [table],
    );
    if (!rows.length) throw Object.assign(new Error(`relation "${table}" does not exist`), { code: '42P01' });
    const all = rows as CopyColumn[];
    if (!names) return all;
    return names.map((n) => {
      const c = all.find((col) => col.name === n);
      if (!c) throw new CopyError(`column "${n}" of relation "${table}" does not exist`);
      return c;
    });
  }

  /** Writes rejects to the load-error views, a batch per statement, outside the caller's transaction. */
  async #recordErrors(client: pg.PoolClient, queryId: number, tableId: number, errors: LoadError[]): Promise<void> {
    const session = (client as unknown as { processID?: number }).processID ?? 0;
    const column = (pick: (e: LoadError) => unknown) => errors.map(pick);
    // PostgreSQL text cannot hold NUL; the views' CHAR columns are cut to their sizes.
    const text = (v: string, n: number) => Buffer.from(v.replaceAll('\u0000', ''), 'utf8').subarray(0, n).toString('utf8').replace(/\uFFFD$/, '');
    await this.#side.query(
      `insert into ${s}.sys_load_error_detail (user_id, query_id, transaction_id, session_id, database_name, table_id, start_time,
         file_name, line_number, column_name, column_type, column_length, position, error_code, error_message)
       select 100, $1, 0, $2, current_database(), $3, now() at time zone 'utc', f, l, c, t, cl, p, code, m
       from unnest($4::text[], $5::bigint[], $6::text[], $7::text[], $8::text[], $9::int[], $10::int[], $11::text[]) as e(f, l, c, t, cl, p, code, m)`,
      [
        queryId, session, tableId,
        column((e) => text(e.file, 256)), column((e) => e.line), column((e) => text(e.column, 127)), column((e) => text(e.type, 10)),
        column((e) => e.length), column((e) => e.position), column((e) => e.code), column((e) => text(e.message, 512)),
      ],
    );
    if (this.#options.flavour !== 'provisioned') return;
    await this.#side.query(
      `insert into ${s}.stl_load_errors (userid, slice, tbl, starttime, session, query, filename, line_number, colname, type,
         col_length, position, raw_line, raw_field_value, err_code, err_reason, is_partial, start_offset)
       select 100, 0, $1, now() at time zone 'utc', $2, $3, f, l, c, t, cl, p, r, '', code, m, 0, 0
       from unnest($4::text[], $5::bigint[], $6::text[], $7::text[], $8::text[], $9::int[], $10::text[], $11::int[], $12::text[]) as e(f, l, c, t, cl, p, r, code, m)`,
      [
        tableId, session, queryId,
        column((e) => text(e.file, 256)), column((e) => e.line), column((e) => text(e.column, 127)), column((e) => text(e.type, 10)),
        column((e) => e.length), column((e) => e.position), column((e) => text(e.raw, 1024)), column((e) => e.code), column((e) => text(e.message, 100)),
      ],
    );
  }
}


export { CopyError, RedshiftUnsupportedError };
