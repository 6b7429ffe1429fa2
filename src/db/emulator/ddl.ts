/**
 * Redshift-only DDL, translated for PostgreSQL, with the layout it declared kept aside so tests and
 * `svv_table_info` can read it. Every rule follows CREATE TABLE and ALTER TABLE:
 * https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_TABLE_NEW.html
 * https://docs.aws.amazon.com/redshift/latest/dg/r_ALTER_TABLE.html
 */

/** A table's distribution and sort key as Redshift holds them. */
export interface TableLayout {
  table: string;
  diststyle?: 'KEY' | 'ALL' | 'EVEN' | 'AUTO';
  distkey?: string | null;
  sortkey?: string[] | null;
}

/** The statement to run on PostgreSQL, and the layout it declared (if it declared one). */
export interface Translation {
  sql: string;
  layout?: TableLayout;
  /** Nothing for PostgreSQL to run (a layout-only ALTER TABLE). */
  noop?: boolean;
}

const IDENT = String.raw`"(?:[^"]|"")*"|[A-Za-z_][\w$]*`;
const unquote = (name: string) => (name.startsWith('"') ? name.slice(1, -1).replace(/""/g, '"') : name.toLowerCase());
const list = (cols: string) => cols.split(',').map((c) => unquote(c.trim()));

/** Splits at top-level commas (outside parentheses and quotes). */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote: string | undefined;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.trim());
}

/** Index of the parenthesis closing the one at `open`. */
function closing(text: string, open: number): number {
  let depth = 0;
  let quote: string | undefined;
  for (let i = open; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i;
  }
  return -1;
}

/** Reads DISTSTYLE/DISTKEY/SORTKEY/BACKUP table attributes; returns what is left and the layout. */
function tableAttributes(text: string, layout: TableLayout): string {
  const patterns: [RegExp, (m: RegExpMatchArray) => void][] = [
    [/\bdiststyle\s+(key|all|even|auto)\b/i, (m) => (layout.diststyle = m[1]!.toUpperCase() as TableLayout['diststyle'])],
    [new RegExp(String.raw`\bdistkey\s*\(\s*(${IDENT})\s*\)`, 'i'), (m) => (layout.distkey = unquote(m[1]!))],
    [/\b(?:compound\s+|interleaved\s+)?sortkey\s*\(([^)]*)\)/i, (m) => (layout.sortkey = list(m[1]!))],
    [/\bsortkey\s+auto\b/i, () => (layout.sortkey = null)],
    [/\bbackup\s+(yes|no)\b/i, () => {}],
  ];
  let rest = text;
  for (const [re, take] of patterns) {
    const m = rest.match(re);
    if (m) {
      take(m);
      rest = rest.replace(re, ' ');
    }
  }
  if (layout.distkey && !layout.diststyle) layout.diststyle = 'KEY';
  return rest.replace(/\s+/g, ' ').trim();
}

/**
 * One column definition for PostgreSQL: IDENTITY(seed, step) becomes an identity column that, like
 * Redshift's, cannot be given a value; ENCODE and column DISTKEY/SORTKEY attributes go; a sized
 * VARCHAR/CHAR gets a check on its length in bytes, since Redshift counts bytes where PostgreSQL
 * counts characters (https://docs.aws.amazon.com/redshift/latest/dg/r_Character_types.html).
 */
function column(def: string, layout: TableLayout): string {
  const m = def.match(new RegExp(String.raw`^(${IDENT})\s+(.*)$`, 's'));
  if (!m) return def;
  const name = m[1]!;
  let rest = m[2]!;
  rest = rest.replace(/\bidentity\s*\(\s*(-?\d+)\s*,\s*(-?\d+)\s*\)/i, (_, seed, step) => `generated always as identity (start with ${seed} minvalue ${seed} increment by ${step})`);
  rest = rest.replace(/\bencode\s+\w+/i, ' ');
  if (/\bdistkey\b/i.test(rest)) {
    layout.distkey = unquote(name);
    layout.diststyle = 'KEY';
    rest = rest.replace(/\bdistkey\b/i, ' ');
  }
  if (/\bsortkey\b/i.test(rest)) {
    layout.sortkey = [unquote(name)];
    rest = rest.replace(/\bsortkey\b/i, ' ');
  }
  rest = rest.replace(/\bprimary key\b|\bunique\b/gi, ' ');
  const sized = rest.match(/^(varchar|character varying|char|character|nvarchar|bpchar)\s*\(\s*(\d+)\s*\)/i);
  if (sized) rest += ` check (octet_length(${name}) <= ${sized[2]})`;
  return `${name} ${rest.replace(/\s+/g, ' ').trim()}`;
}

/**
 * PRIMARY KEY, UNIQUE and FOREIGN KEY constraints are informational on Redshift, not enforced
 * (https://docs.aws.amazon.com/redshift/latest/dg/t_Defining_constraints.html): the emulation drops
 * them, so a duplicate our load rules let through shows up as it would on a cluster.
 */
const isKeyConstraint = (def: string) => /^(constraint\s+(?:"(?:[^"]|"")*"|\w+)\s+)?(primary key|unique|foreign key)\b/i.test(def);

function createTable(sql: string): Translation | undefined {
  const head = sql.match(new RegExp(String.raw`^\s*create\s+((?:temporary|temp|local\s+temp|local\s+temporary)\s+)?table\s+(if\s+not\s+exists\s+)?(${IDENT}(?:\.(?:${IDENT}))?)\s*`, 'i'));
  if (!head) return undefined;
  const temporary = !!head[1];
  const table = unquote(head[3]!.split('.').pop()!);
  const layout: TableLayout = { table };
  const afterName = sql.slice(head[0].length);
  const prefix = `create ${temporary ? 'temporary ' : ''}table ${head[2] ?? ''}${head[3]}`;

  if (!afterName.startsWith('(')) {
    // CREATE TABLE … AS: attributes sit between the name and AS.
    const as = afterName.search(/\bas\b/i);
    if (as < 0) return undefined;
    const attributes = tableAttributes(afterName.slice(0, as), layout);
    return { sql: `${prefix} ${attributes} ${afterName.slice(as)}`.replace(/\s+as\b/i, ' as'), layout: temporary ? undefined : layout };
  }
  const end = closing(afterName, 0);
  const defs = splitTopLevel(afterName.slice(1, end)).filter((d) => !isKeyConstraint(d));
  const attributes = tableAttributes(afterName.slice(end + 1), layout);
  return {
    sql: `${prefix} (${defs.map((d) => column(d, layout)).join(', ')})${attributes ? ` ${attributes}` : ''}`,
    layout: temporary ? undefined : layout,
  };
}

/** ALTER TABLE … ALTER DISTSTYLE/DISTKEY/SORTKEY: a change of layout, nothing for PostgreSQL to do. */
function alterLayout(sql: string): Translation | undefined {
  const m = sql.match(new RegExp(String.raw`^\s*alter\s+table\s+(${IDENT})\s+alter\s+(.*)$`, 'is'));
  if (!m) return undefined;
  const layout: TableLayout = { table: unquote(m[1]!) };
  const change = m[2]!.trim();
  let rest: string;
  if (/^distkey\s/i.test(change)) {
    layout.diststyle = 'KEY';
    layout.distkey = unquote(change.replace(/^distkey\s+/i, '').trim());
    rest = '';
  } else if (/^diststyle\s+key\s+distkey\s/i.test(change)) {
    layout.diststyle = 'KEY';
    layout.distkey = unquote(change.replace(/^diststyle\s+key\s+distkey\s+/i, '').trim());
    rest = '';
  } else if (/^diststyle\s+(all|even|auto)$/i.test(change)) {
    layout.diststyle = change.split(/\s+/)[1]!.toUpperCase() as TableLayout['diststyle'];
    layout.distkey = null;
    rest = '';
  } else {
    rest = tableAttributes(change, layout);
    if (layout.sortkey === undefined) return undefined;
  }
  if (rest) return undefined;
  return { sql: '', layout, noop: true };
}

/** Translates Redshift DDL for PostgreSQL; undefined when the statement needs no translation. */
export function translateDdl(sql: string): Translation | undefined {
  const body = sql.replace(/^(\s*--[^\n]*\n)+/, '');
  if (/^\s*create\s+(temporary\s+|temp\s+|local\s+)*table\b/i.test(body)) return createTable(body);
  if (/^\s*alter\s+table\b.*\balter\s+(distkey|diststyle|sortkey|compound|interleaved)\b/is.test(body)) return alterLayout(body);
  return undefined;
}
