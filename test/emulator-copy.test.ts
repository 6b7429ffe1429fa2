import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CopyColumn, CopyError, type CopyStatement, checkRegion, parseCopy, readCopyInput } from '../src/db/emulator/copy.js';
import { LocalS3 } from '../src/db/emulator/local-s3.js';
import { autoMapsColumns, copyFromS3, isLoadFailure, jsonPathsDocument, lastCopyId, latestLoadErrors, loadErrorsSince, MAXERROR_LIMIT, maxErrorFor } from '../src/db/redshift/copy.js';
import { EVENT_SOURCE, SONG_SOURCE } from '../src/types/raw.js';
import { Kysely } from 'kysely';
import { RedshiftDialect } from '../src/db/redshift/dialect.js';

// The Redshift emulation's COPY, called directly (no database): its parser, its conversion of JSON
// values into columns and its rejects, after the COPY reference and the load error reference
// (https://docs.aws.amazon.com/redshift/latest/dg/r_COPY.html, r_Load_Error_Reference.html).

const ROLE = "iam_role 'arn:aws:iam::123456789012:role/r'";

describe('parseCopy', () => {
  it('reads table, columns, source and every emulated option', () => {
    expect(
      parseCopy(`COPY public."Stage" (id, "Name") FROM 's3://b/k' IAM_ROLE 'arn:x' REGION AS 'eu-west-1' FORMAT AS JSON 's3://bkt/p.json' MANIFEST GZIP MAXERROR AS 7 COMPUPDATE OFF STATUPDATE true;`),
    ).toEqual({
      table: 'Stage',
      columns: ['id', 'Name'],
      from: 's3://b/k',
      iamRole: 'arn:x',
      region: 'eu-west-1',
      json: 's3://bkt/p.json',
      manifest: true,
      gzip: true,
      maxError: 7,
    });
  });

  it('defaults: no columns, no region, JSON auto, no manifest, no gzip, MAXERROR 0', () => {
    expect(parseCopy(`copy t from 's3://b/k' iam_role default json`)).toEqual({
      table: 't',
      columns: undefined,
      from: 's3://b/k',
      iamRole: 'default',
      json: 'auto',
      manifest: false,
      gzip: false,
      maxError: 0,
    });
    expect(parseCopy(`copy t from 's3://b/k' ${ROLE} region 'us-east-1' format json 'auto ignorecase' maxerror 100000`)).toMatchObject({
      region: 'us-east-1',
      json: 'auto ignorecase',
      maxError: 100000,
    });
  });

  it("keeps '' and \"\" as quotes, and skips comments outside literals only", () => {
    const c = parseCopy(`-- a comment\ncopy "a""b" from 's3://b/it''s--not /* a comment */' /* here */ ${ROLE} json -- tail`);
    expect(c.table).toBe('a"b');
    expect(c.from).toBe("s3://b/it's--not /* a comment */");
  });

  it.each([
    [`copy t from 's3://b/k' ${ROLE}`, /FORMAT AS JSON only/],
    [`copy t from 's3://b/k' json`, /needs an authorization: IAM_ROLE/],
    [`copy t from '/local/file' ${ROLE} json`, /loads only from Amazon S3 \(s3:\/\/…\), not "\/local\/file"/],
    [`copy t from 's3://b/k' ${ROLE} json csv`, /^COPY option CSV is not emulated; see https:\/\/docs\.aws\.amazon\.com\/redshift\/latest\/dg\/r_COPY\.html$/],
    [`copy t from 's3://b/k' ${ROLE} json maxerror -1`, /^MAXERROR must be between 0 and 100000, not -1$/],
    [`copy t from 's3://b/k' ${ROLE} json maxerror 100001`, /^MAXERROR must be between 0 and 100000, not 100001$/],
    [`copy t from 's3://b/k' ${ROLE} json maxerror x`, /^syntax error at or near "x"$/],
    // COMPUPDATE's argument is optional: a word that is not one is the next option.
    [`copy t from 's3://b/k' ${ROLE} json compupdate maybe`, /^COPY option MAYBE is not emulated/],
    [`copy t from 's3://b/k' ${ROLE} json statupdate preset`, /^COPY option PRESET is not emulated/],
    [`copy t from 's3://b/k' ${ROLE} json compupdate 'on'`, /^syntax error at or near "on"$/],
    [`copy t (a b) from 's3://b/k' ${ROLE} json`, /^syntax error at or near "b"$/],
    [`copy t (a, 'b') from 's3://b/k' ${ROLE} json`, /^syntax error at or near "b"$/],
    [`copy t from 's3://b/k' ${ROLE} json (`, /^syntax error at or near "\("$/],
    [`copy t into 's3://b/k'`, /^syntax error at or near "into"$/],
    // A quoted "from" is a name, not the keyword.
    [`copy t "from" 's3://b/k' ${ROLE} json`, /^syntax error at or near "from"$/],
    [`copy t from s3 ${ROLE}`, /^syntax error at or near "s3"$/],
    [`copy t from`, /^syntax error at end of input$/],
    [`copy t`, /^syntax error at end of input$/],
    [`copy s.t`, /^syntax error at end of input$/],
    [`copy t from 's3://b/k' iam_role`, /^syntax error at end of input$/],
    [`copy t from 's3://b/k' ${ROLE} json region`, /^syntax error at end of input$/],
    [`copy t from 's3://b/k' ${ROLE} format`, /^syntax error at end of input$/],
    [`copy t from 's3://b/k' ${ROLE} json as`, /^syntax error at end of input$/],
    [`copy t from 's3://b/k' ${ROLE} json maxerror`, /^syntax error at end of input$/],
    [`select 1`, /^syntax error at or near "select"$/],
    [`copy t from 's3://b/k' ${ROLE} json ; more`, /^syntax error at or near "; more"$/],
    [`copy t from 's3://b/k' ${ROLE} json;more`, /^syntax error at or near ";more"$/],
    [`copy t from 's3://b/k' ${ROLE} json 'unclosed`, /^syntax error at or near "'unclosed"$/],
  ])('refuses %s', (sql, message) => {
    expect(() => parseCopy(sql)).toThrow(CopyError);
    expect(() => parseCopy(sql)).toThrow(message);
  });

  it("JSON [AS] 'json_option', alone or after FORMAT [AS]; 'auto' when the option is left out", () => {
    const json = (options: string) => parseCopy(`copy t from 's3://b/k' ${ROLE} ${options}`).json;
    expect(json("json 's3://b/p.json'")).toBe('s3://b/p.json');
    expect(json("json as 'auto ignorecase'")).toBe('auto ignorecase');
    expect(json("format as json as 's3://b/p.json'")).toBe('s3://b/p.json');
    expect(json('format as json')).toBe('auto');
    expect(json('format json gzip')).toBe('auto');
  });

  it('COMPUPDATE [PRESET | ON | TRUE | OFF | FALSE] and STATUPDATE [ON | TRUE | OFF | FALSE], the argument optional', () => {
    const parse = (options: string) => parseCopy(`copy t from 's3://b/k' ${ROLE} json ${options}`);
    for (const value of ['preset', 'on', 'true', 'off', 'false', '']) expect(parse(`compupdate ${value} gzip`).gzip).toBe(true);
    for (const value of ['on', 'true', 'off', 'false', '']) expect(parse(`statupdate ${value} gzip`).gzip).toBe(true);
    expect(parse('compupdate').json).toBe('auto');
    expect(parse('statupdate').json).toBe('auto');
  });

  it('a trailing semicolon, white space or comment ends the statement', () => {
    for (const tail of [';', ' ;  ', ' /* end */', ' -- end', '\n']) expect(parseCopy(`copy t from 's3://b/k' ${ROLE} json${tail}`).json).toBe('auto');
  });

  it('errors carry SQLSTATE XX000, as Redshift reports load failures', () => {
    expect(new CopyError('x')).toMatchObject({ name: 'CopyError', code: 'XX000', message: 'x' });
  });
});

describe('readCopyInput', () => {
  let root: string;
  let s3: LocalS3;
  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'sparkify-s3-'));
    s3 = new LocalS3(root);
  });
  afterAll(() => fs.rm(root, { recursive: true, force: true }));

  const col = (name: string, type: string, extra: Partial<CopyColumn> = {}): CopyColumn => ({ name, type, length: null, nullable: true, ...extra });
  const statement = (from: string, extra: Partial<CopyStatement> = {}): CopyStatement => ({ table: 't', from, iamRole: 'r', json: 'auto', manifest: false, gzip: false, maxError: 0, ...extra });
  let n = 0;
  /** Puts `body` under a fresh prefix and COPYs it into `columns`. */
  const copyOf = async (body: string, columns: CopyColumn[], extra: Partial<CopyStatement> = {}) => {
    const prefix = `s3://bkt/case${++n}/`;
    await s3.put(`${prefix}a.json`, body);
    return readCopyInput(s3, statement(prefix, extra), columns, 'us-west-2');
  };
  /** The one reject of a one-record COPY into one column. */
  const rejectOf = async (value: unknown, column: CopyColumn) => {
    const outcome = await copyOf(JSON.stringify({ [column.name]: value }), [column], { maxError: 10 });
    expect(outcome.rows).toEqual([]);
    expect(outcome.errors).toHaveLength(1);
    return outcome.errors[0]!;
  };
  const rowOf = async (value: unknown, column: CopyColumn) => {
    const outcome = await copyOf(JSON.stringify({ [column.name]: value }), [column]);
    expect(outcome.errors).toEqual([]);
    return outcome.rows[0];
  };

  it('integers: the ranges of SMALLINT, INTEGER and BIGINT, digits only', async () => {
    expect(await rowOf(32767, col('v', 'smallint'))).toBe('32767\n');
    expect(await rowOf(-32768, col('v', 'smallint'))).toBe('-32768\n');
    expect(await rowOf(2147483647, col('v', 'integer'))).toBe('2147483647\n');
    expect(await rowOf(-2147483648, col('v', 'integer'))).toBe('-2147483648\n');
    expect(await rowOf(' 12 ', col('v', 'integer'))).toBe('12\n');
    expect(await rowOf('+7', col('v', 'integer'))).toBe('7\n');
    expect(await rowOf(9007199254740991, col('v', 'bigint'))).toBe('9007199254740991\n');
    expect(await rejectOf(32768, col('v', 'smallint'))).toMatchObject({ code: 1216, message: "Overflow, Value '32768', Type: smallint", column: 'v', type: 'smallint' });
    expect(await rejectOf(-32769, col('v', 'smallint'))).toMatchObject({ code: 1216 });
    expect(await rejectOf(2147483648, col('v', 'integer'))).toMatchObject({ code: 1216, message: "Overflow, Value '2147483648', Type: integer" });
    expect(await rejectOf(-2147483649, col('v', 'integer'))).toMatchObject({ code: 1216 });
    expect(await rejectOf(1e19, col('v', 'bigint'))).toMatchObject({ code: 1216, message: "Overflow, Value '10000000000000000000', Type: bigint" });
  });

  it('a non-integer into an integer column is error 1207, naming the first bad character and its position', async () => {
    expect(await rejectOf('12x4', col('v', 'integer'))).toMatchObject({ code: 1207, message: "Invalid digit, Value 'x', Pos 2, Type: Integer", position: 2 });
    expect(await rejectOf(1.5, col('v', 'bigint'))).toMatchObject({ code: 1207, message: "Invalid digit, Value '.', Pos 1, Type: Long", position: 1 });
    expect(await rejectOf('abc', col('v', 'smallint'))).toMatchObject({ code: 1207, message: "Invalid digit, Value 'a', Pos 0, Type: Short", position: 0 });
    expect(await rejectOf(true, col('v', 'integer'))).toMatchObject({ code: 1207, message: "Invalid digit, Value 't', Pos 0, Type: Integer" });
    expect(await rejectOf({ a: 1 }, col('v', 'integer'))).toMatchObject({ code: 1207, message: "Invalid digit, Value '{', Pos 0, Type: Integer" });
    expect(await rejectOf('', col('v', 'integer'))).toMatchObject({ code: 1207, message: "Invalid digit, Value '', Pos 0, Type: Integer" });
    expect(await rejectOf('1-2', col('v', 'integer'))).toMatchObject({ code: 1207 });
  });

  it('doubles: any finite number, as a number or its text; nothing else', async () => {
    expect(await rowOf(1.25, col('v', 'double precision'))).toBe('1.25\n');
    expect(await rowOf('2.5e3', col('v', 'real'))).toBe('2500\n');
    for (const bad of ['x1', '', '  ', true, [1], 'Infinity']) {
      expect(await rejectOf(bad, col('v', 'double precision'))).toMatchObject({ code: 1208, message: `Invalid digit, Value '${(typeof bad === 'object' ? JSON.stringify(bad) : String(bad)).slice(0, 1)}', Pos 0, Type: Double` });
    }
  });

  it('strings: longer than the column in bytes is 1204, NUL is 1220; text is escaped for COPY', async () => {
    expect(await rowOf('éé', col('v', 'character varying', { length: 4 }))).toBe('éé\n');
    expect(await rejectOf('ééé', col('v', 'character varying', { length: 4 }))).toMatchObject({ code: 1204, message: 'String length exceeds DDL length', length: '4' });
    expect(await rejectOf('abcde', col('v', 'character', { length: 4 }))).toMatchObject({ code: 1204 });
    expect(await rowOf('a'.repeat(300), col('v', 'character varying'))).toBe(`${'a'.repeat(300)}\n`);
    expect(await rejectOf('a\u0000', col('v', 'character varying', { length: 10 }))).toMatchObject({ code: 1220, message: 'String contains invalid or unsupported UTF8 codepoints' });
    expect(await rowOf('a\tb\\c\nd', col('v', 'character varying'))).toBe('a\\tb\\\\c\\nd\n');
    // Numbers, booleans and objects go into text columns as their JSON text.
    expect(await rowOf(12.5, col('v', 'character varying'))).toBe('12.5\n');
    expect(await rowOf({ a: [1, 'x'] }, col('v', 'character varying'))).toBe('{"a":[1,"x"]}\n');
  });

  it('booleans take JSON true and false only; other types pass as escaped text', async () => {
    expect(await rowOf(false, col('v', 'boolean'))).toBe('false\n');
    expect(await rowOf(true, col('v', 'boolean'))).toBe('true\n');
    expect(await rejectOf('true', col('v', 'boolean'))).toMatchObject({ code: 1210, message: "Invalid boolean value 'true'" });
    expect(await rowOf('2018-11-01\t', col('v', 'date'))).toBe('2018-11-01\\t\n');
  });

  it('null or a missing key: \\N, or error 1213 in a NOT NULL column', async () => {
    expect(await rowOf(null, col('v', 'integer'))).toBe('\\N\n');
    const outcome = await copyOf('{"w": 1}', [col('v', 'integer', { nullable: false })], { maxError: 2 });
    expect(outcome.errors).toEqual([
      { file: expect.stringMatching(/a\.json$/), line: 1, column: 'v', type: 'integer', length: '', position: 0, code: 1213, message: 'Missing data for not-null field', raw: '{"w": 1}' },
    ]);
  });

  it('rows join the columns with tabs; a record stops at its first bad column', async () => {
    const columns = [col('a', 'integer'), col('b', 'character varying', { length: 3 }), col('c', 'integer')];
    const outcome = await copyOf('{"a": 1, "b": "x", "c": 2}\n{"a": 2, "b": "long", "c": "bad"}\n', columns, { maxError: 5 });
    expect(outcome.rows).toEqual(['1\tx\t2\n']);
    expect(outcome.errors.map((e) => [e.line, e.column, e.code])).toEqual([[2, 'b', 1204]]);
  });

  it('text that is not JSON, a scalar and a cut-off record are 1224, at the last line of the record', async () => {
    const outcome = await copyOf('{"a": 1}\nnot json\n42\n{"a":\n 2,\n', [col('a', 'integer')], { maxError: 10 });
    expect(outcome.rows).toEqual(['1\n']);
    expect(outcome.errors.map((e) => [e.line, e.code, e.message, e.raw])).toEqual([
      [2, 1224, 'Invalid JSON: the text is not a JSON object or array', 'not json'],
      [3, 1224, 'Invalid JSON: a top-level value must be an object or array', '42'],
      [5, 1224, 'Invalid JSON: the text is not a JSON object or array', '{"a":\n 2,'],
    ]);
    // A record that is not JSON has no column: column_name, column_type and column_length stay blank.
    const file = expect.stringMatching(/a\.json$/);
    expect(outcome.errors.slice(0, 2)).toEqual([
      { file, line: 2, column: '', type: '', length: '', position: 0, code: 1224, message: 'Invalid JSON: the text is not a JSON object or array', raw: 'not json' },
      { file, line: 3, column: '', type: '', length: '', position: 0, code: 1224, message: 'Invalid JSON: a top-level value must be an object or array', raw: '42' },
    ]);
    // Text that looks like a record but is not JSON, on lines of its own.
    const broken = await copyOf('{"a": 1,\n "a" 2}\nnull\n', [col('a', 'integer')], { maxError: 10 });
    expect(broken.errors.map((e) => [e.line, e.message])).toEqual([
      [2, 'Invalid JSON: the text is not a JSON object or array'],
      [3, 'Invalid JSON: a top-level value must be an object or array'],
    ]);
  });

  it('keeps 1024 characters of a rejected record', async () => {
    const long = `{"a": "${'x'.repeat(2000)}"}`;
    const outcome = await copyOf(long, [col('a', 'integer')], { maxError: 10 });
    expect(outcome.errors[0]!.raw).toBe(long.slice(0, 1024));
  });

  it('MAXERROR m fails the COPY at m errors or more; 0 and 1 at the first', async () => {
    const body = '{"a": "x"}\n{"a": "y"}\n{"a": 1}\n';
    const failed = async (maxError: number) => (await copyOf(body, [col('a', 'integer')], { maxError })).failed;
    expect(await Promise.all([0, 1, 2, 3, 4].map(failed))).toEqual([true, true, true, false, false]);
    expect((await copyOf('{"a": 1}', [col('a', 'integer')])).failed).toBe(false);
  });

  it("'auto' matches keys exactly; 'auto ignorecase' in any case; arrays have no keys", async () => {
    const body = '{"UserId": 5, "userid": 6}\n{"USERID": 7}\n[8]\n';
    expect((await copyOf(body, [col('userid', 'integer')])).rows).toEqual(['6\n', '\\N\n', '\\N\n']);
    expect((await copyOf('{"USERID": 7}\n{"name": 1}\n', [col('userid', 'integer')], { json: 'auto ignorecase' })).rows).toEqual(['7\n', '\\N\n']);
    // Not even an array's length, nor a key that only reads like a missing one.
    expect((await copyOf('[8, 9]\n', [col('length', 'integer')])).rows).toEqual(['\\N\n']);
    expect((await copyOf('{"undefined": 5}\n', [col('userid', 'integer')], { json: 'auto ignorecase' })).rows).toEqual(['\\N\n']);
  });

  it('JSONPaths: bracket or dot notation, array indexes, missing paths as NULL', async () => {
    await s3.put('s3://bkt/paths/p.json', JSON.stringify({ jsonpaths: ["$['a']['b']", '$["c"][1]', "$['d']", "$['e'][0]", "$['a']['b']['x']"] }));
    const columns = ['v1', 'v2', 'v3', 'v4', 'v5'].map((c) => col(c, 'character varying'));
    const outcome = await copyOf('{"a": {"b": "AB"}, "c": [10, 20], "e": {"0": "no"}}\n[1]\n', columns, { json: 's3://bkt/paths/p.json' });
    expect(outcome.rows).toEqual(['AB\t20\t\\N\t\\N\t\\N\n', '\\N\t\\N\t\\N\t\\N\t\\N\n']);
    await s3.put('s3://bkt/paths/dot.json', JSON.stringify({ jsonpaths: ['$.a.b', '$.c'] }));
    expect((await copyOf('{"a": {"b": 1}, "c": 2}', [col('x', 'integer'), col('y', 'integer')], { json: 's3://bkt/paths/dot.json' })).rows).toEqual(['1\t2\n']);
  });

  it('JSONPaths: keys of any length, indexes of several digits, white space inside brackets; no member of a string or of null', async () => {
    await s3.put('s3://bkt/paths/long.json', JSON.stringify({ jsonpaths: ["$['list'][10]", '$["key"]', "$[ 'spaced' ]"] }));
    const list = Array.from({ length: 11 }, (_, i) => i * 10);
    const columns = [col('x', 'integer'), col('y', 'character varying'), col('z', 'character varying')];
    expect((await copyOf(JSON.stringify({ list, key: 'K', spaced: 'S' }), columns, { json: 's3://bkt/paths/long.json' })).rows).toEqual(['100\tK\tS\n']);
    await s3.put('s3://bkt/paths/dots.json', JSON.stringify({ jsonpaths: ['$.outer.inner', '$.text.length', '$.nothing.x'] }));
    const dotted = await copyOf('{"outer": {"inner": 4}, "text": "abc", "nothing": null}', [col('x', 'integer'), col('y', 'integer'), col('z', 'integer')], { json: 's3://bkt/paths/dots.json' });
    expect(dotted).toEqual({ rows: ['4\t\\N\t\\N\n'], errors: [], failed: false });
  });

  it('JSONPaths: a document without "jsonpaths" means auto; bad documents fail the COPY', async () => {
    await s3.put('s3://bkt/paths/other.json', JSON.stringify({ paths: ['$.x'] }));
    expect((await copyOf('{"a": 3}', [col('a', 'integer')], { json: 's3://bkt/paths/other.json' })).rows).toEqual(['3\n']);
    const fails = async (doc: string, message: RegExp, json = 's3://bkt/paths/bad.json') => {
      await s3.put('s3://bkt/paths/bad.json', doc);
      await expect(copyOf('{"a": 3}', [col('a', 'integer')], { json })).rejects.toThrow(message);
    };
    await fails('{"jsonpaths": "$.a"}', /^Invalid JSONPath format: "jsonpaths" must be an array of strings$/);
    await fails('{"jsonpaths": [1]}', /^Invalid JSONPath format: "jsonpaths" must be an array of strings$/);
    await fails('{"jsonpaths": ["$.a", 1]}', /^Invalid JSONPath format: "jsonpaths" must be an array of strings$/);
    // A path's notation is the one it starts with: a dot path is not bracket notation for holding a bracket later.
    await fails(`{"jsonpaths": ["$['a']", "$.b$['c']"]}`, /^Invalid JSONPath format: bracket and dot notation are mixed$/);
    await fails('{"jsonpaths": ["a"]}', /^Invalid JSONPath format: a$/);
    await fails('{"jsonpaths": ["$..a"]}', /^Invalid JSONPath format: \$\.\.a$/);
    await fails('{"jsonpaths": ["$[*]"]}', /^Invalid JSONPath format: \$\[\*\]$/);
    await fails('{"jsonpaths": ["$.a", "$.b"]}', /^Number of jsonpaths and the number of columns should match. JSONPath size: 2, Number of columns in table or column list: 1$/);
    await fails('not json', /^JSONPaths file s3:\/\/bkt\/paths\/bad\.json cannot be read: /);
    await fails('{}', /^FORMAT AS JSON takes 'auto', 'auto ignorecase' or an s3:\/\/ JSONPaths file, not 'auto ignore'$/, 'auto ignore');
  });

  it('a manifest: its listed files only; a missing optional entry is skipped, a missing mandatory one fails', async () => {
    await s3.put('s3://bkt/man/one.json', '{"a": 1}');
    await s3.put('s3://bkt/man/two.json', '{"a": 2}');
    await s3.put('s3://bkt/man/unlisted.json', '{"a": 3}');
    const run = async (manifest: unknown) => {
      await s3.put('s3://bkt/m.manifest', typeof manifest === 'string' ? manifest : JSON.stringify(manifest));
      return readCopyInput(s3, statement('s3://bkt/m.manifest', { manifest: true }), [col('a', 'integer')], 'us-west-2');
    };
    expect((await run({ entries: [{ url: 's3://bkt/man/two.json' }, { url: 's3://bkt/man/gone.json', mandatory: false }, { url: 's3://bkt/man/one.json', mandatory: true }] })).rows).toEqual(['2\n', '1\n']);
    await expect(run({ entries: [{ url: 's3://bkt/man/gone.json', mandatory: true }] })).rejects.toThrow(/^Manifest file entry s3:\/\/bkt\/man\/gone\.json is mandatory but does not exist/);
    await expect(run({ entries: [] })).rejects.toThrow(/^No files found to load from manifest s3:\/\/bkt\/m\.manifest$/);
    await expect(run({})).rejects.toThrow(/^No files found to load/);
    await expect(run({ entries: [{ mandatory: true }] })).rejects.toThrow(/^Manifest file is not valid: an entry has no "url"$/);
    await expect(run('{')).rejects.toThrow(/^Manifest file is not valid or cannot be read: /);
  });

  it('GZIP: gunzips each file; a file that is not gzip fails the COPY', async () => {
    await s3.put('s3://bkt/gz/a.json.gz', gzipSync('{"a": 4}\n{"a": 5}'));
    expect((await readCopyInput(s3, statement('s3://bkt/gz/', { gzip: true }), [col('a', 'integer')], 'us-west-2')).rows).toEqual(['4\n', '5\n']);
    await s3.put('s3://bkt/plain/a.json', '{"a": 4}');
    await expect(readCopyInput(s3, statement('s3://bkt/plain/', { gzip: true }), [col('a', 'integer')], 'us-west-2')).rejects.toThrow(/^gzip: s3:\/\/bkt\/plain\/a\.json: /);
  });

  it('a prefix with no objects fails, naming the key', async () => {
    await expect(readCopyInput(s3, statement('s3://bkt/nothing/here'), [col('a', 'integer')], 'us-west-2')).rejects.toThrow(/^The specified S3 prefix 'nothing\/here' does not exist$/);
  });

  it('REGION: every bucket the COPY reads must be in the region it names (the cluster\'s by default)', async () => {
    await fs.writeFile(path.join(root, '.regions.json'), JSON.stringify({ east: 'us-east-1' }));
    await s3.put('s3://east/a.json', '{"a": 1}');
    const east = statement('s3://east/');
    expect(() => checkRegion(s3, east, 'us-west-2')).toThrow(/Status 301 \(bucket east is in us-east-1, COPY asked us-west-2\)$/);
    expect(() => checkRegion(s3, { ...east, region: 'us-east-1' }, 'us-west-2')).not.toThrow();
    expect(() => checkRegion(s3, east, 'us-east-1')).not.toThrow();
    // The JSONPaths file and the manifest's files count too.
    expect(() => checkRegion(s3, { ...statement('s3://bkt/x'), json: 's3://east/p.json' }, 'us-west-2')).toThrow(/bucket east/);
    expect(() => checkRegion(s3, statement('s3://bkt/m.manifest'), 'us-west-2', ['s3://east/a.json'])).toThrow(/bucket east/);
    expect((await readCopyInput(s3, { ...east, region: 'us-east-1' }, [col('a', 'integer')], 'us-west-2')).rows).toEqual(['1\n']);
    await fs.rm(path.join(root, '.regions.json'));
  });
});

describe('COPY statements for Redshift (src/db/redshift/copy.ts)', () => {
  const redshiftDb = new Kysely<any>({ dialect: new RedshiftDialect({ pool: async () => ({}) as never }) });
  it('maxErrorFor: a budget of N needs MAXERROR N + 1 (0 stays 0), up to the limit', () => {
    expect([0, 1, 2, 99_999].map(maxErrorFor)).toEqual([0, 2, 3, 100_000]);
    expect(MAXERROR_LIMIT).toBe(100_000);
    expect(() => maxErrorFor(100_000)).toThrow(/^Redshift's COPY tolerates at most 99999 bad records \(MAXERROR 100000\); --max-errors 100000 is too many$/);
    expect(() => maxErrorFor(-1)).toThrow(/error budget must be a whole number ≥ 0, not -1/);
    expect(() => maxErrorFor(1.5)).toThrow(RangeError);
  });

  it('isLoadFailure: only the message of a COPY that failed on its data', () => {
    expect(isLoadFailure(new Error("Load into table 'staging_events' failed.  Check 'sys_load_error_detail' system table for details."))).toBe(true);
    expect(isLoadFailure(new Error("ERROR: Load into table 'x' failed"))).toBe(false);
    expect(isLoadFailure(new Error('Load into table failed'))).toBe(false);
    expect(isLoadFailure(undefined)).toBe(false);
    expect(isLoadFailure('text')).toBe(false);
  });

  it('jsonPathsDocument and autoMapsColumns', () => {
    expect(JSON.parse(jsonPathsDocument(SONG_SOURCE))).toEqual({ jsonpaths: SONG_SOURCE.fields.map((f) => `$['${f.json}']`) });
    expect(jsonPathsDocument(SONG_SOURCE).endsWith('\n')).toBe(true);
    expect(autoMapsColumns(SONG_SOURCE)).toBe(true);
    expect(autoMapsColumns(EVENT_SOURCE)).toBe(false);
  });

  it('reads rejects from SYS_LOAD_ERROR_DETAIL: of the latest COPY, or of this session since a COPY id', () => {
    const select = 'select trim(file_name) as file_name, line_number, trim(column_name) as column_name, trim(error_message) as error_message\nfrom sys_load_error_detail\nwhere ';
    expect(latestLoadErrors().compile(redshiftDb).sql).toContain(`${select}query_id = pg_last_copy_id()\norder by file_name, line_number`);
    expect(loadErrorsSince(41.9).compile(redshiftDb).sql).toContain(`${select}session_id = pg_backend_pid() and query_id > 41\norder by file_name, line_number`);
    expect(lastCopyId().compile(redshiftDb).sql).toBe('select pg_last_copy_id() as id');
  });

  it('copyFromS3 writes the options it is given, and only those', () => {
    const compile = (extra: object) =>
      copyFromS3({ source: SONG_SOURCE, from: 's3://bkt/songs/', manifest: false, iamRole: 'arn:aws:iam::123456789012:role/r', jsonPaths: 'auto', gzip: false, maxErrors: 0, ...extra }).compile(redshiftDb).sql;
    const plain = compile({});
    expect(plain).toContain(`copy "staging_songs" (${SONG_SOURCE.fields.map((f) => `"${f.column}"`).join(', ')}) from 's3://bkt/songs/' iam_role 'arn:aws:iam::123456789012:role/r' format as json 'auto' maxerror 0 compupdate off statupdate off`);
    expect(plain).not.toMatch(/region|manifest|gzip/);
    const all = compile({ region: 'us-east-1', manifest: true, gzip: true, jsonPaths: 's3://bkt/p.json', maxErrors: 4 });
    expect(all).toContain("format as json 's3://bkt/p.json' manifest gzip maxerror 5 compupdate off");
    expect(all).toContain("region 'us-east-1' format");
    // A value that is no S3 URI is refused before it reaches the SQL, naming what it was given for.
    expect(() => compile({ jsonPaths: 'paths.json' })).toThrow(/^JSONPaths file "paths\.json" is not valid: expected something like s3:\/\/my-bucket\/path\/$/);
  });
});
