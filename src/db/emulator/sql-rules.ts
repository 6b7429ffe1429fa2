/**
 * What the Redshift emulation refuses and translates, statement by statement. Each rule cites the
 * AWS page it follows; where AWS documents an error text, that text is used, otherwise the message
 * says which feature Redshift lacks (and the README lists those as unverified against a cluster).
 */

const DG = 'https://docs.aws.amazon.com/redshift/latest/dg';

/** A statement Redshift would refuse; `code` is PostgreSQL's feature_not_supported, as pg reports it. */
export class RedshiftUnsupportedError extends Error {
  override name = 'RedshiftUnsupportedError';
  readonly code = '0A000';
  constructor(
    message: string,
    readonly doc: string,
  ) {
    super(`${message} (Redshift emulation; see ${doc})`);
  }
}

/** SQL with comments removed and string literals and quoted identifiers blanked, for keyword tests. */
export function skeleton(sql: string): string {
  return sql
    .replace(/--[^\n]*|\/\*[\s\S]*?\*\//g, ' ')
    .replace(/'(?:[^']|'')*'/g, "''")
    .replace(/"(?:[^"]|"")*"/g, '"_"')
    .replace(/\s+/g, ' ')
    .trim()
    .toLowerCase();
}

interface Refusal {
  test: (s: string) => boolean;
  message: string;
  doc: string;
}

const has = (re: RegExp) => (s: string) => re.test(s);

// The unsupported features and functions that our code (or Kysely for it) could plausibly emit.
const REFUSALS: Refusal[] = [
  { test: has(/\breturning\b/), message: 'RETURNING is not supported', doc: `${DG}/c_unsupported-postgresql-features.html` },
  { test: has(/\bon conflict\b/), message: 'INSERT … ON CONFLICT is not supported (use MERGE)', doc: `${DG}/r_INSERT_30.html` },
  { test: has(/^create (unique )?index\b/), message: 'CREATE INDEX is not supported: Redshift has no indexes', doc: `${DG}/c_unsupported-postgresql-features.html` },
  { test: has(/\bpg_(try_)?advisory_(xact_)?(un)?lock/), message: 'advisory lock functions are not supported (use LOCK)', doc: `${DG}/c_unsupported-postgresql-functions.html` },
  { test: has(/^(create|alter|drop) sequence\b|\b(nextval|currval|setval)\s*\(/), message: 'sequences are not supported (use IDENTITY(seed, step))', doc: `${DG}/c_unsupported-postgresql-features.html` },
  { test: has(/^(create|alter) .*\b(small|big)?serial\b/), message: 'SERIAL types are not supported (use IDENTITY(seed, step))', doc: `${DG}/c_unsupported-postgresql-datatypes.html` },
  { test: has(/\bgenerated (always|by default) as identity\b/), message: 'GENERATED … AS IDENTITY is not supported (use IDENTITY(seed, step))', doc: `${DG}/r_CREATE_TABLE_NEW.html` },
  { test: has(/^create (global |local )?unlogged\b/), message: 'UNLOGGED tables are not supported', doc: `${DG}/r_CREATE_TABLE_NEW.html` },
  { test: has(/^copy\b.*\bfrom stdin\b/), message: 'COPY … FROM STDIN is not supported: COPY loads from Amazon S3, EMR, DynamoDB or SSH', doc: `${DG}/r_COPY.html` },
  { test: has(/^copy\b.*\bto\b/), message: 'COPY … TO is not supported (use UNLOAD)', doc: `${DG}/r_COPY.html` },
  { test: has(/^rollback to\b|^savepoint\b|^release savepoint\b/), message: 'savepoints (ROLLBACK TO SAVEPOINT) are not supported', doc: `${DG}/c_unsupported-postgresql-functions.html` },
  { test: has(/\bis (not )?distinct from\b/), message: 'IS DISTINCT FROM is not supported', doc: `${DG}/c_unsupported-postgresql-functions.html` },
  {
    test: has(/\b(string_agg|array_agg|every|regexp_matches|regexp_split_to_array|regexp_split_to_table|clock_timestamp|transaction_timestamp|pg_sleep|width_bucket|format|overlay|convert_from|convert_to|quote_nullable)\s*\(/),
    message: 'this PostgreSQL function is not supported',
    doc: `${DG}/c_unsupported-postgresql-functions.html`,
  },
  { test: has(/\barray\s*\[/), message: 'array constructors are not supported', doc: `${DG}/c_unsupported-postgresql-features.html` },
  { test: has(/\b(from|join)\s*\(\s*values\b/), message: 'a VALUES list used as a constant table is not supported', doc: `${DG}/c_unsupported-postgresql-features.html` },
  { test: has(/^create (or replace )?(trigger|extension|rule)\b/), message: 'triggers, extensions and rules are not supported', doc: `${DG}/c_unsupported-postgresql-features.html` },
  { test: has(/\bfor (update|share|no key update|key share)\b/), message: 'SELECT … FOR UPDATE/SHARE is not supported', doc: `${DG}/c_unsupported-postgresql-features.html` },
  {
    // A MERGE source must be a table, with one unconditional WHEN MATCHED and one WHEN NOT MATCHED.
    test: (s) => /^merge\b/.test(s) && (/\busing \(/.test(s) || /\bwhen (not )?matched and\b/.test(s)),
    message: 'MERGE takes a table as its source and unconditional WHEN clauses only',
    doc: `${DG}/r_MERGE.html`,
  },
];

/**
 * generate_series runs only on the leader node: with a table in the same query Redshift answers
 * with this documented error (https://docs.aws.amazon.com/redshift/latest/dg/c_sql-functions-leader-node.html).
 */
function generateSeriesWithTables(s: string): boolean {
  if (!/\bgenerate_series\s*\(/.test(s)) return false;
  const rest = s.replace(/\bgenerate_series\s*\([^)]*\)/g, ' ');
  return /\b(from|join)\s+("_"|[a-z_])/.test(rest);
}

/** Throws what Redshift would answer to a statement it does not support. */
export function refuseUnsupported(sql: string): void {
  const s = skeleton(sql);
  if (generateSeriesWithTables(s)) {
    throw new RedshiftUnsupportedError(
      'Specified types or functions (one per INFO message) not supported on Redshift tables.',
      `${DG}/c_sql-functions-leader-node.html`,
    );
  }
  for (const r of REFUSALS) if (r.test(s)) throw new RedshiftUnsupportedError(r.message, r.doc);
}
