import { gunzipSync } from 'node:zlib';
import { JsonSplitter, lastLineOf } from '../../etl/read/json-records.js';
import { escapeCopy } from '../insert-rows.js';
import { parseS3Uri } from '../redshift/values.js';
import type { LocalS3 } from './local-s3.js';

/**
 * COPY … FROM 's3://…' FORMAT AS JSON, executed against the local S3 stand-in, following the COPY
 * reference (https://docs.aws.amazon.com/redshift/latest/dg/r_COPY.html). Only the options our
 * loads use (and their documented neighbours) are emulated; any other option is refused, so the
 * emulation never silently ignores what a cluster would do.
 */

const DG = 'https://docs.aws.amazon.com/redshift/latest/dg';

/** A parsed COPY statement. */
export interface CopyStatement {
  table: string;
  columns?: string[];
  from: string;
  iamRole?: string;
  region?: string;
  /** 'auto', 'auto ignorecase', or the s3:// URI of a JSONPaths file. */
  json: string;
  manifest: boolean;
  gzip: boolean;
  maxError: number;
}

/** A COPY the emulation cannot parse or run, with Redshift's wording where AWS documents it. */
export class CopyError extends Error {
  override name = 'CopyError';
  readonly code = 'XX000';
}

// A -- comment runs to the end of its line: (?:\n|$) stops a backtrack from reading its tail as a token.
// Stryker disable next-line Regex: equivalent — without |$ a -- comment on the last line is left unmatched (no token starts with --), and the end-of-input check in tokenize skips it just the same.
const TOKEN = /(?:\s|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*(?:'((?:[^']|'')*)'|"((?:[^"]|"")*)"|([A-Za-z_][\w$]*)|(-?\d+)|([(),.]))/y;

type Token = { kind: 'string' | 'ident' | 'word' | 'number' | 'punct'; value: string };

function tokenize(sql: string): Token[] {
  // Comments are skipped by the token pattern itself, so "--" inside a literal stays in the literal.
  // Stryker disable next-line MethodExpression: equivalent — trim removes exactly what \s matches, which TOKEN skips at the start and the end-of-input check accepts at the end.
  const body = sql.trim().replace(/;\s*$/, '');
  const tokens: Token[] = [];
  TOKEN.lastIndex = 0;
  // Stryker disable next-line EqualityOperator: equivalent — one more turn at the end finds no token and nothing but an empty rest, and breaks.
  while (TOKEN.lastIndex < body.length) {
    const start = TOKEN.lastIndex;
    const m = TOKEN.exec(body);
    if (!m) {
      if (/^(?:\s|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*$/.test(body.slice(start))) break;
      throw new CopyError(`syntax error at or near "${body.slice(start, start + 20).trim()}"`);
    }
    if (m[1] !== undefined) tokens.push({ kind: 'string', value: m[1].replace(/''/g, "'") });
    else if (m[2] !== undefined) tokens.push({ kind: 'ident', value: m[2].replace(/""/g, '"') });
    else if (m[3] !== undefined) tokens.push({ kind: 'word', value: m[3].toLowerCase() });
    else if (m[4] !== undefined) tokens.push({ kind: 'number', value: m[4] });
    else {
      // Stryker disable next-line StringLiteral: equivalent — punctuation is recognised by its value; nothing compares a kind with 'punct'.
      tokens.push({ kind: 'punct', value: m[5]! });
    }
  }
  return tokens;
}

/** Parses the COPY forms the emulation supports (https://docs.aws.amazon.com/redshift/latest/dg/r_COPY.html). */
export function parseCopy(sql: string): CopyStatement {
  const t = tokenize(sql);
  let i = 0;
  const peek = () => t[i];
  const next = () => {
    const token = t[i++];
    if (!token) throw new CopyError('syntax error at end of input');
    return token;
  };
  const expectWord = (w: string) => {
    const token = next();
    if (token.kind !== 'word' || token.value !== w) throw new CopyError(`syntax error at or near "${token.value}"`);
  };
  const name = (token: Token) => (token.kind === 'ident' || token.kind === 'word' ? token.value : fail(token));
  const fail = (token: Token): never => {
    throw new CopyError(`syntax error at or near "${token.value}"`);
  };
  const string = () => {
    const token = next();
    return token.kind === 'string' ? token.value : fail(token);
  };
  // JSON [AS] 'json_option', 'auto' when left out (https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-format.html#copy-json).
  const jsonOption = () => {
    if (peek()?.value === 'as') {
      next();
      return string();
    }
    return peek()?.kind === 'string' ? string() : 'auto';
  };

  expectWord('copy');
  let table = name(next());
  if (peek()?.value === '.') {
    next();
    table = name(next());
  }
  let columns: string[] | undefined;
  if (peek()?.value === '(') {
    next();
    columns = [];
    for (;;) {
      columns.push(name(next()));
      const sep = next();
      if (sep.value === ')') break;
      if (sep.value !== ',') fail(sep);
    }
  }
  expectWord('from');
  const from = string();
  if (!from.startsWith('s3://')) {
    throw new CopyError(`the emulation loads only from Amazon S3 (s3://…), not ${JSON.stringify(from)} (see ${DG}/copy-parameters-data-source-s3.html)`);
  }
  const copy: CopyStatement = { table, columns, from, json: '', manifest: false, gzip: false, maxError: 0 };
  while (peek()) {
    const option = next();
    if (option.kind !== 'word') fail(option);
    switch (option.value) {
      case 'iam_role':
        copy.iamRole = peek()?.value === 'default' ? (next(), 'default') : string();
        break;
      case 'region':
        if (peek()?.value === 'as') next();
        copy.region = string();
        break;
      case 'format':
        if (peek()?.value === 'as') next();
        expectWord('json');
        copy.json = jsonOption();
        break;
      case 'json':
        copy.json = jsonOption();
        break;
      case 'manifest':
        copy.manifest = true;
        break;
      case 'gzip':
        copy.gzip = true;
        break;
      case 'maxerror': {
        if (peek()?.value === 'as') next();
        const n = next();
        if (n.kind !== 'number') fail(n);
        copy.maxError = Number(n.value);
        // The documented limit (https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-load.html#copy-maxerror).
        if (copy.maxError < 0 || copy.maxError > 100000) throw new CopyError(`MAXERROR must be between 0 and 100000, not ${copy.maxError}`);
        break;
      }
      case 'compupdate':
      case 'statupdate': {
        // COMPUPDATE [ PRESET | { ON | TRUE } | { OFF | FALSE } ], STATUPDATE [ { ON | TRUE } | { OFF | FALSE } ]:
        // the argument may be left out (https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-load.html).
        const values = option.value === 'compupdate' ? ['preset', 'on', 'true', 'off', 'false'] : ['on', 'true', 'off', 'false'];
        if (peek()?.kind === 'word' && values.includes(peek()!.value)) next();
        break;
      }
      default:
        throw new CopyError(`COPY option ${option.value.toUpperCase()} is not emulated; see ${DG}/r_COPY.html`);
    }
  }
  if (!copy.iamRole) {
    throw new CopyError(`COPY from S3 needs an authorization: IAM_ROLE 'arn:aws:iam::…:role/…' (see ${DG}/copy-parameters-authorization.html)`);
  }
  if (!copy.json) throw new CopyError(`the emulation loads FORMAT AS JSON only (see ${DG}/copy-parameters-data-format.html)`);
  return copy;
}

/** A target column as COPY converts into it. */
export interface CopyColumn {
  name: string;
  type: string;
  /** VARCHAR/CHAR length in bytes. */
  length: number | null;
  nullable: boolean;
}

/** One rejected record, as SYS_LOAD_ERROR_DETAIL and STL_LOAD_ERRORS show it. */
export interface LoadError {
  file: string;
  line: number;
  column: string;
  type: string;
  length: string;
  position: number;
  code: number;
  message: string;
  raw: string;
}

/** What a COPY produced: rows for the table (as COPY text), and the rejects. */
export interface CopyOutcome {
  rows: string[];
  errors: LoadError[];
  /** Whether the errors make the COPY fail (MAXERROR). */
  failed: boolean;
}

/** The input files of a COPY: a manifest's entries, or every key under the prefix. */
async function inputFiles(s3: LocalS3, copy: CopyStatement): Promise<string[]> {
  if (copy.manifest) {
    // https://docs.aws.amazon.com/redshift/latest/dg/loading-data-files-using-manifest.html
    let manifest: { entries?: { url?: string; mandatory?: boolean }[] };
    try {
      manifest = JSON.parse((await s3.get(copy.from)).toString('utf8'));
    } catch (error) {
      throw new CopyError(`Manifest file is not valid or cannot be read: ${(error as Error).message}`);
    }
    const files: string[] = [];
    for (const entry of manifest.entries ?? []) {
      if (!entry.url) throw new CopyError('Manifest file is not valid: an entry has no "url"');
      if (await s3.head(entry.url)) files.push(entry.url);
      else if (entry.mandatory) throw new CopyError(`Manifest file entry ${entry.url} is mandatory but does not exist: S3ServiceException:The specified key does not exist.,Status 404`);
    }
    // "Regardless of any mandatory settings, COPY will terminate if no files are found."
    if (!files.length) throw new CopyError(`No files found to load from manifest ${copy.from}`);
    return files;
  }
  // A FROM value is a key prefix: every object whose key begins with it is loaded
  // (https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-source-s3.html).
  const files = await s3.list(copy.from);
  if (!files.length) throw new CopyError(`The specified S3 prefix '${parseS3Uri(copy.from).key}' does not exist`);
  return files;
}

/** The JSONPath expressions, one per column; undefined for 'auto'. */
async function jsonPaths(s3: LocalS3, copy: CopyStatement, columns: CopyColumn[]): Promise<((record: unknown) => unknown)[] | undefined> {
  // https://docs.aws.amazon.com/redshift/latest/dg/copy-usage_notes-copy-from-json.html
  if (copy.json === 'auto' || copy.json === 'auto ignorecase') return undefined;
  if (!copy.json.startsWith('s3://')) throw new CopyError(`FORMAT AS JSON takes 'auto', 'auto ignorecase' or an s3:// JSONPaths file, not '${copy.json}'`);
  let doc: unknown;
  try {
    doc = JSON.parse((await s3.get(copy.json)).toString('utf8'));
  } catch (error) {
    throw new CopyError(`JSONPaths file ${copy.json} cannot be read: ${(error as Error).message}`);
  }
  const paths = (doc as { jsonpaths?: unknown }).jsonpaths;
  // "If the name is any string other than "jsonpaths", COPY uses the 'auto' argument."
  if (paths === undefined) return undefined;
  if (!Array.isArray(paths) || !paths.every((p) => typeof p === 'string')) throw new CopyError('Invalid JSONPath format: "jsonpaths" must be an array of strings');
  // "You can't mix bracket notation and dot notation in the jsonpaths array."
  const bracket = (p: string) => /^\$\[\s*['"]/.test(p);
  if (paths.some(bracket) && !paths.every(bracket)) throw new CopyError('Invalid JSONPath format: bracket and dot notation are mixed');
  if (paths.length !== columns.length) {
    throw new CopyError(`Number of jsonpaths and the number of columns should match. JSONPath size: ${paths.length}, Number of columns in table or column list: ${columns.length}`);
  }
  return paths.map(compilePath);
}

/** One JSONPath in bracket or dot notation (no wildcards or filters, as COPY allows). */
function compilePath(path: string): (record: unknown) => unknown {
  const steps: (string | number)[] = [];
  const bracket = /\[\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|(\d+))\s*\]/y;
  const dot = /\.([^.[\]']+)/y;
  if (!path.startsWith('$')) throw new CopyError(`Invalid JSONPath format: ${path}`);
  let i = 1;
  while (i < path.length) {
    bracket.lastIndex = dot.lastIndex = i;
    const b = bracket.exec(path);
    if (b) {
      steps.push(b[3] !== undefined ? Number(b[3]) : (b[1] ?? b[2])!);
      i = bracket.lastIndex;
      continue;
    }
    const d = dot.exec(path);
    if (!d) throw new CopyError(`Invalid JSONPath format: ${path}`);
    steps.push(d[1]!);
    i = dot.lastIndex;
  }
  return (record) =>
    steps.reduce<unknown>((v, step) => {
      if (v === null || typeof v !== 'object') return undefined;
      if (typeof step === 'number') return Array.isArray(v) ? v[step] : undefined;
      return Array.isArray(v) ? undefined : (v as Record<string, unknown>)[step];
    }, record);
}

const INT_RANGES: Record<string, [number, number]> = {
  smallint: [-32768, 32767],
  integer: [-2147483648, 2147483647],
  bigint: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};

type Converted = { text: string } | { error: Omit<LoadError, 'file' | 'line' | 'raw'> };

/** COPY's text form of one JSON value for its column, or the load error it raises. */
function convert(column: CopyColumn, value: unknown): Converted {
  const error = (code: number, message: string, position = 0) => ({
    error: { column: column.name, type: column.type, length: column.length === null ? '' : String(column.length), position, code, message },
  });
  // Codes and texts after the load error reference (https://docs.aws.amazon.com/redshift/latest/dg/r_Load_Error_Reference.html);
  // the texts of 1207 follow the sample in SYS_LOAD_ERROR_DETAIL's page, the others are not spelled out by AWS.
  // NULL into NOT NULL: the load error reference has it as error 1213, a rejected record; the JSON
  // format page says "the COPY command fails". Emulated as a rejected record (counted by MAXERROR);
  // which one a cluster does is for the live suite to tell.
  if (value === undefined || value === null) return column.nullable ? { text: '\\N' } : error(1213, 'Missing data for not-null field');
  // An object or array is loaded as its JSON text (copy-usage_notes-copy-from-json).
  const text = typeof value === 'object' ? JSON.stringify(value) : String(value);
  if (column.type in INT_RANGES) {
    const [min, max] = INT_RANGES[column.type]!;
    const digits = /^\s*[-+]?\d+\s*$/.test(text);
    // Stryker disable next-line ConditionalExpression,LogicalOperator,StringLiteral: equivalent — the text of a boolean or an object (true, false, {…}, […]) is never digits, so !digits rejects them too.
    if (typeof value === 'boolean' || typeof value === 'object' || !digits) {
      const bad = text.search(/[^-+\d\s]/);
      return error(1207, `Invalid digit, Value '${text.slice(Math.max(0, bad), Math.max(0, bad) + 1)}', Pos ${Math.max(0, bad)}, Type: ${column.type === 'integer' ? 'Integer' : column.type === 'bigint' ? 'Long' : 'Short'}`, Math.max(0, bad));
    }
    const n = Number(text);
    if (n < min || n > max) return error(1216, `Overflow, Value '${text}', Type: ${column.type}`);
    return { text: String(n) };
  }
  if (column.type === 'double precision' || column.type === 'real') {
    // Stryker disable next-line ConditionalExpression,LogicalOperator,StringLiteral: equivalent — the text of a boolean or an object (true, false, {…}, […]) is never a number, so Number.isFinite rejects them too.
    if (typeof value === 'boolean' || typeof value === 'object' || text.trim() === '' || !Number.isFinite(Number(text))) {
      return error(1208, `Invalid digit, Value '${text.slice(0, 1)}', Pos 0, Type: Double`);
    }
    return { text: String(Number(text)) };
  }
  if (column.type === 'character varying' || column.type === 'character') {
    if (text.includes('\u0000')) return error(1220, 'String contains invalid or unsupported UTF8 codepoints');
    // Stryker disable next-line StringLiteral: equivalent — Buffer.byteLength(text, '') counts UTF-8 too.
    const bytes = Buffer.byteLength(text, 'utf8');
    if (column.length !== null && bytes > column.length) return error(1204, `String length exceeds DDL length`);
    return { text: escapeCopy(text) };
  }
  if (column.type === 'boolean') {
    if (typeof value === 'boolean') return { text: String(value) };
    return error(1210, `Invalid boolean value '${text}'`);
  }
  return { text: escapeCopy(text) };
}


/**
 * Reads a COPY's files and converts each JSON object into a row, rejecting what Redshift rejects:
 * text that is not JSON, a value that does not convert to its column's type, a string longer than
 * its VARCHAR in bytes, NULL in a NOT NULL column. Each JSON object may span any number of lines and
 * objects may follow each other with any white space; a rejected record is reported at the last
 * line of its object, as SYS_LOAD_ERROR_DETAIL's line_number is documented.
 */
export async function readCopyInput(s3: LocalS3, copy: CopyStatement, columns: CopyColumn[], clusterRegion: string): Promise<CopyOutcome> {
  checkRegion(s3, copy, clusterRegion);
  const files = await inputFiles(s3, copy);
  checkRegion(s3, copy, clusterRegion, files);
  const paths = await jsonPaths(s3, copy, columns);
  const ignoreCase = copy.json === 'auto ignorecase';
  const pick = paths ?? columns.map((c) => (record: unknown) => autoValue(record, c.name, ignoreCase));
  // Stryker disable next-line BooleanLiteral: equivalent — failed is set from the errors below before the outcome is returned.
  const outcome: CopyOutcome = { rows: [], errors: [], failed: false };
  for (const file of files) {
    let bytes = await s3.get(file);
    if (copy.gzip) {
      try {
        bytes = gunzipSync(bytes);
      } catch (error) {
        // A GZIP COPY of a file that is not gzip'd fails as a whole (copy-parameters-file-compression).
        throw new CopyError(`gzip: ${file}: ${(error as Error).message}`);
      }
    }
    const splitter = new JsonSplitter();
    const values = [...splitter.push(bytes.toString('utf8')), ...splitter.end()];
    for (const json of values) {
      const lastLine = lastLineOf(json);
      const reject = (e: Omit<LoadError, 'file' | 'line' | 'raw'>) =>
        outcome.errors.push({ ...e, file, line: lastLine, raw: json.text.slice(0, 1024) });
      let value = json.value;
      // A record with a problem is cut off (unbalanced braces or quotes): its text never parses.
      // Stryker disable next-line ConditionalExpression,LogicalOperator: equivalent — parsing a cut-off record fails all the same, and a value the splitter parsed parses the same again.
      if (json.problem === undefined && value === undefined) {
        try {
          // Stryker disable BlockStatement: equivalent — (the catch block below) value is still undefined there.
          value = JSON.parse(json.text);
        } catch {
          value = undefined;
        }
      }
      // Stryker restore BlockStatement
      // Stryker disable next-line ConditionalExpression: equivalent — a record with a problem has no value: the splitter parses none, and its text does not parse.
      if (json.problem !== undefined || value === undefined) {
        reject({ column: '', type: '', length: '', position: 0, code: 1224, message: 'Invalid JSON: the text is not a JSON object or array' });
        continue;
      }
      if (value === null || typeof value !== 'object') {
        reject({ column: '', type: '', length: '', position: 0, code: 1224, message: 'Invalid JSON: a top-level value must be an object or array' });
        continue;
      }
      let row = '';
      let failedField = false;
      for (let c = 0; c < columns.length; c++) {
        const converted = convert(columns[c]!, pick[c]!(value));
        if ('error' in converted) {
          reject(converted.error);
          failedField = true;
          break;
        }
        row += (c ? '\t' : '') + converted.text;
      }
      if (!failedField) outcome.rows.push(`${row}\n`);
    }
  }
  // "If the load returns the error_count number of errors or greater, the load fails … Set this value
  // to 0 or 1 if you want the load to fail as soon as the first error occurs." (MAXERROR)
  outcome.failed =
    // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent — at least Math.max(1, …) errors is at least one error.
    outcome.errors.length > 0 &&
    outcome.errors.length >= Math.max(1, copy.maxError);
  return outcome;
}

function autoValue(record: unknown, column: string, ignoreCase: boolean): unknown {
  // 'auto' matches object keys to column names; arrays have no keys (copy-usage_notes-copy-from-json).
  if (Array.isArray(record)) return undefined;
  const r = record as Record<string, unknown>;
  if (!ignoreCase) return r[column];
  const key = Object.keys(r).find((k) => k.toLowerCase() === column.toLowerCase());
  return key === undefined ? undefined : r[key];
}

/** COPY's REGION must be the bucket's (https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-source-s3.html). */
export function checkRegion(s3: LocalS3, copy: CopyStatement, clusterRegion: string, files: string[] = []): void {
  // "all resources, including a manifest file or multiple Amazon S3 buckets, must be located in the specified Region"
  const uris = [copy.from, ...(copy.json.startsWith('s3://') ? [copy.json] : []), ...files];
  for (const uri of uris) {
    const { bucket } = parseS3Uri(uri);
    const bucketRegion = s3.bucketRegion(bucket) ?? clusterRegion;
    const asked = copy.region ?? clusterRegion;
    if (bucketRegion !== asked) {
      throw new CopyError(
        `S3ServiceException:The bucket you are attempting to access must be addressed using the specified endpoint. Please send all future requests to this endpoint.,Status 301 (bucket ${bucket} is in ${bucketRegion}, COPY asked ${asked})`,
      );
    }
  }
}
