import fs from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { HeadBucketCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { recordingWarehouse } from '../src/db/recording.js';
import { RedshiftAdapter } from '../src/db/redshift/adapter.js';
import { copyFromS3, jsonPathsDocument } from '../src/db/redshift/copy.js';
import { RedshiftDialect } from '../src/db/redshift/dialect.js';
import { InvalidValueError } from '../src/db/redshift/values.js';
import { type DataFile, walkDataFiles } from '../src/etl/read/files.js';
import { stageOnRedshift } from '../src/etl/stage/redshift.js';
import { redshiftPlan } from '../src/plan.js';
import { EVENT_SOURCE, SONG_SOURCE } from '../src/types/raw.js';
import type { Config } from '../src/config.js';
import { ROOT, run } from './helpers/cli.js';
import { openTestWarehouse } from './helpers/db.js';
import { event, song, writeTree } from './helpers/files.js';

const PLAN = {
  songs: 's3://udacity-dend/song_data',
  logs: 's3://udacity-dend/log_data',
  iamRole: 'arn:aws:iam::123456789012:role/sparkify-redshift',
  region: 'us-west-2',
  s3Staging: 's3://sparkify-staging/etl/',
};
const GOLDEN = path.join(ROOT, 'test/golden/redshift-plan.sql');

/** Every data file below `dir`, in path order. */
async function listDataFiles(dir: string, setting: string): Promise<DataFile[]> {
  const files: DataFile[] = [];
  for await (const batch of walkDataFiles(dir, setting)) files.push(...batch);
  return files;
}

describe('Redshift dialect', () => {
  let wh: Awaited<ReturnType<typeof openTestWarehouse>>;
  beforeAll(async () => {
    wh = await openTestWarehouse();
  });
  afterAll(() => wh.close());

  it('reports no RETURNING and takes the migration lock as a table lock inside a transaction', async () => {
    const adapter = new RedshiftAdapter();
    expect(adapter.supportsReturning).toBe(false);
    expect(adapter.supportsTransactionalDdl).toBe(true);
    const rec = recordingWarehouse({ home: '', songsDir: '', logsDir: '' });
    await adapter.acquireMigrationLock(rec.db, { lockTable: 'kysely_migration_lock', lockRowId: 'x', lockTableSchema: undefined });
    await adapter.releaseMigrationLock(rec.db);
    expect(rec.statements.map((s) => s.sql)).toEqual(['begin', 'lock "kysely_migration_lock"', 'commit']);
  });

  it('compiles like PostgreSQL (identifiers, $n parameters)', () => {
    const db = new Kysely<any>({ dialect: new RedshiftDialect({ pool: async () => ({}) as never }) });
    const q = db.selectFrom('songs').select('title').where('song_id', '=', 'SO1').compile();
    expect(q.sql).toBe('select "title" from "songs" where "song_id" = $1');
    expect(q.parameters).toEqual(['SO1']);
    // LIMIT and OFFSET counts are literals on Redshift, never typed bind parameters.
    const limited = db.selectFrom('songs').select('title').limit(5).offset(10).compile();
    expect(limited.sql).toBe('select "title" from "songs" limit 5 offset 10');
    expect(limited.parameters).toEqual([]);
    expect(() => db.selectFrom('songs').select('title').limit(Number.NaN).compile()).toThrow(/whole number/);
  });

  it('its introspector calls nothing Redshift lacks, and reads a real catalog as Kysely’s own does', async () => {
    const pool = new pg.Pool({ connectionString: wh.url });
    const redshiftish = new Kysely<any>({ dialect: new RedshiftDialect({ pool }) });
    try {
      const { RedshiftIntrospector } = await import('../src/db/redshift/introspector.js');
      const text = new RedshiftIntrospector(redshiftish).tablesQuery().compile().sql;
      expect(text).not.toMatch(/pg_get_serial_sequence|crdb/);
      const strip = (tables: { name: string; columns: { name: string; dataType: string; isNullable: boolean }[] }[]) =>
        tables.map((t) => ({ name: t.name, columns: t.columns.map((c) => [c.name, c.dataType, c.isNullable]) })).sort((a, b) => a.name.localeCompare(b.name));
      expect(strip(await redshiftish.introspection.getTables())).toEqual(strip(await wh.db.introspection.getTables()));
      const withInternal = await redshiftish.introspection.getTables({ withInternalKyselyTables: true });
      expect(withInternal.map((t) => t.name)).toContain('kysely_migration');
    } finally {
      await redshiftish.destroy();
    }
  });

  it('kysely-ctl runs with it (migrate:list over the Redshift dialect)', async () => {
    const url = new URL(wh.url);
    url.searchParams.set('sslmode', 'disable');
    const result = await run(path.join(ROOT, 'node_modules/.bin/kysely'), ['migrate:list', '--no-outdated-check'], {
      SPARKIFY_TARGET: 'redshift',
      REDSHIFT_URL: url.toString(),
      DATABASE_URL: '',
      // kysely-ctl's logger goes quiet under a test runner: let it speak.
      NODE_ENV: 'production',
      TEST: '',
      VITEST: '',
    });
    expect(result.code, result.stderr).toBe(0);
    const migrations = (await fs.readdir(path.join(ROOT, 'migrations'))).map((f) => f.replace(/\.ts$/, ''));
    // (The reporter differs on a terminal and in CI: "[✓] name" or "[`✓] name`".)
    for (const m of migrations) expect(result.stdout + result.stderr).toMatch(new RegExp(`✓\\W* ${m}`));
  });
});

describe('sparkify plan --target redshift', () => {
  let plan: string;
  beforeAll(async () => {
    plan = await redshiftPlan(PLAN);
  });

  it('matches the golden plan (UPDATE_GOLDEN=1 rewrites it, and then fails so that the diff is reviewed)', async () => {
    if (process.env.UPDATE_GOLDEN) {
      const before = await fs.readFile(GOLDEN, 'utf8').catch(() => '');
      await fs.writeFile(GOLDEN, plan);
      // A refresh never passes by itself: CI must not go green on a rewritten golden file.
      if (before !== plan) throw new Error('golden updated, review the diff (git diff test/golden) and run again without UPDATE_GOLDEN');
    }
    expect(plan).toBe(await fs.readFile(GOLDEN, 'utf8'));
  });

  it('creates the tables with their distribution and sort keys and an IDENTITY songplay_id', () => {
    expect(plan).toMatch(/create table "songplays" \("songplay_id" bigint identity\(0, 1\) not null,.*\) diststyle key distkey\("song_id"\) compound sortkey\("start_time"\);/);
    expect(plan).toMatch(/create table "songs" .* diststyle key distkey\("song_id"\) compound sortkey\("song_id"\);/);
    for (const t of ['users', 'artists', 'time']) expect(plan).toMatch(new RegExp(`create table "${t}" .* diststyle all compound sortkey`));
  });

  it('COPYs from S3 with the IAM role, region and JSONPaths, then MERGEs from temporary tables', () => {
    expect(plan).toContain(
      `copy "staging_events" (${EVENT_SOURCE.fields.map((f) => `"${f.column}"`).join(', ')}) from 's3://udacity-dend/log_data/' iam_role 'arn:aws:iam::123456789012:role/sparkify-redshift' region 'us-west-2' format as json 's3://sparkify-staging/etl/jsonpaths/staging_events.json' maxerror 0 compupdate off statupdate off;`,
    );
    expect(plan).toContain(`copy "staging_songs" (${SONG_SOURCE.fields.map((f) => `"${f.column}"`).join(', ')}) from 's3://udacity-dend/song_data/'`);
    for (const t of ['songs', 'artists', 'users', 'songplays', 'time']) {
      expect(plan).toMatch(new RegExp(`-- https://docs.aws.amazon.com/redshift/latest/dg/r_MERGE.html\\nmerge into "${t}" using "${t}_merge_source" on `));
    }
  });

  it('writes the JSONPaths file for s3:// inputs, reads no STL view, analyses no temporary table, and gives MERGE sources the target\'s distribution key', () => {
    expect(plan).toContain('-- upload s3://sparkify-staging/etl/jsonpaths/staging_events.json');
    expect(plan).not.toMatch(/\bstl_/i);
    expect(plan).not.toMatch(/analyze "\w+_merge_source"/);
    expect(plan).toMatch(/create temporary table "songplays_merge_source" diststyle key distkey\("start_time"\) as /);
    expect(plan).toMatch(/alter table "songplays" alter distkey "start_time"/);
  });

  it('contains nothing Redshift rejects, and cites the AWS page of each Redshift construct', () => {
    // TRUNCATE commits the transaction it runs in on Redshift: the run empties staging only after its
    // commit, on a connection of its own (the emulation refuses TRUNCATE in a transaction, and the
    // pipeline tests run there). Here: it comes after the run's last statement, its bookkeeping.
    expect(plan.indexOf('truncate table "staging_songs"')).toBeGreaterThan(plan.lastIndexOf('from "time";'));
    for (const banned of [/on conflict/i, /\breturning\b/i, /pg_advisory/i, /create (unique )?index/i, /\bunlogged\b/i, /from stdin/i, /generated (by default|always) as identity/i, /to_timestamp/i, /::(int|text|varchar|timestamp|bigint|double|date|numeric|bool)/i]) {
      expect(plan).not.toMatch(banned);
    }
    const statements = plan.split(/;\n/);
    for (const s of statements) {
      const body = s.replace(/^(--.*\n)+/gm, '');
      if (/^\s*(merge|copy|lock|analyze|truncate)\b|diststyle/i.test(body)) expect(s, body.slice(0, 80)).toMatch(/-- https:\/\/docs\.aws\.amazon\.com\/redshift\//);
    }
  });

  it.each([
    ['an S3 path with a quote', { songs: "s3://bucket/x'; drop table songs;--" }, /S3 path|--songs .* is not valid/],
    ['a path that is not S3', { logs: 'https://bucket/x' }, /--logs "https:\/\/bucket\/x" is not valid/],
    ['a bad role ARN', { iamRole: "arn:aws:iam::123:role/x' or 1=1" }, /--iam-role .* is not valid/],
    ['a bad region', { region: "us-west-2'" }, /--region .* is not valid: expected something like us-west-2/],
  ])('refuses %s', async (_, change, message) => {
    await expect(redshiftPlan({ ...PLAN, ...change })).rejects.toThrow(InvalidValueError);
    await expect(redshiftPlan({ ...PLAN, ...change })).rejects.toThrow(message);
  });

  it('prints from the command line without credentials or network', async () => {
    const result = await run(process.execPath, [
      path.join(ROOT, 'bin/sparkify.js'), 'plan', '--target', 'redshift', '--songs', PLAN.songs, '--logs', PLAN.logs,
      '--iam-role', PLAN.iamRole, '--region', PLAN.region, '--s3-staging', PLAN.s3Staging,
    ], { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', DATABASE_URL: '' });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(plan);
    // A value refused for its format is a usage error (exit 2), named as given.
    const bad = await run(process.execPath, [
      path.join(ROOT, 'bin/sparkify.js'), 'plan', '--target', 'redshift', '--songs', PLAN.songs, '--logs', PLAN.logs,
      '--iam-role', 'arn:aws:iam::123:role/x', '--region', PLAN.region, '--s3-staging', PLAN.s3Staging,
    ], { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', DATABASE_URL: '' });
    expect([bad.code, bad.stderr]).toEqual([2, expect.stringContaining('--iam-role "arn:aws:iam::123:role/x" is not valid')]);
  });
});

describe('Redshift staging from local files', () => {
  const s3 = mockClient(S3Client);
  beforeEach(() => s3.reset());
  const config: Config = {
    target: 'redshift',
    home: '',
    songsDir: '',
    logsDir: '',
    redshift: { host: 'h', port: 5439, database: 'dev', user: 'u', password: 'p', auth: 'password', ssl: true, iamRole: PLAN.iamRole, region: PLAN.region, s3Staging: 's3://stage-bucket/sparkify' },
  };

  it('validates local files, uploads the good records of new and changed ones (not unchanged ones) gzip\'d, writes a manifest per source and the JSONPaths file, and COPYs through them', async () => {
    const songs = await writeTree({ 'A/B/C/TRABC1.json': song({}) });
    const logs = await writeTree({ '2018/11/a.json': event({}), '2018/11/b.json.gz': `${event({ ts: 2 })}\n{"bad": ` });
    const unchanged = (await listDataFiles(logs, 'logs')).find((f) => f.relPath.endsWith('a.json'))!;
    const { hashFile } = await import('../src/etl/read/files.js');
    const sha = await hashFile(unchanged.path);
    s3.on(HeadObjectCommand).rejects(Object.assign(new Error('NotFound'), { name: 'NotFound' }));
    s3.on(HeadObjectCommand, { Key: 'sparkify/files/events/2018/11/a.json.gz' }).resolves({ ContentLength: 1, Metadata: { sha256: sha, format: 'validated-jsonl-gz-1' } });
    s3.on(HeadBucketCommand).resolves({ BucketRegion: PLAN.region });
    s3.on(PutObjectCommand).resolves({});

    const wh = recordingWarehouse(config);
    delete (wh as { objectStore?: unknown }).objectStore; // this test drives the SDK path, mocked
    // The stager itself: a run's file list lives in the warehouse, which the recording one only records.
    await stageOnRedshift(
      wh,
      [
        { source: SONG_SOURCE, files: await listDataFiles(songs, 'songs') },
        { source: EVENT_SOURCE, files: await listDataFiles(logs, 'logs') },
      ],
      { runId: '00000000-0000-4000-8000-000000000002', s3Client: s3 as unknown as S3Client, maxErrors: 1 },
    );

    const puts = s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
    const keys = puts.map((p) => p.Key).sort();
    expect(keys).toEqual([
      'sparkify/files/events/2018/11/b.json.gz',
      'sparkify/files/songs/A/B/C/TRABC1.json.gz',
      'sparkify/jsonpaths/staging_events.json',
      expect.stringMatching(/^sparkify\/runs\/[0-9a-f-]{36}\/events\.manifest$/),
      expect.stringMatching(/^sparkify\/runs\/[0-9a-f-]{36}\/songs\.manifest$/),
    ]);
    expect(puts.find((p) => p.Key === 'sparkify/jsonpaths/staging_events.json')!.Body).toBe(jsonPathsDocument(EVENT_SOURCE));
    // Only the good record goes up: the cut-off one is rejected here, as on PostgreSQL.
    const uploaded = gunzipSync(puts.find((p) => p.Key === 'sparkify/files/events/2018/11/b.json.gz')!.Body as Buffer).toString('utf8');
    expect(uploaded.trim().split('\n').map((l) => JSON.parse(l).ts)).toEqual([2]);
    const manifest = JSON.parse(puts.find((p) => String(p.Key).endsWith('/events.manifest'))!.Body as string);
    expect(manifest).toEqual({
      entries: [
        { url: 's3://stage-bucket/sparkify/files/events/2018/11/a.json.gz', mandatory: true },
        { url: 's3://stage-bucket/sparkify/files/events/2018/11/b.json.gz', mandatory: true },
      ],
    });

    const copies = wh.statements.map((s) => s.sql).filter((s) => /^-- .*\ncopy /.test(s));
    expect(copies).toHaveLength(2);
    expect(copies.every((c) => / manifest gzip maxerror 0 /.test(c))).toBe(true);
  });

  it('JSONPaths map every JSON key to its column in order', () => {
    expect(JSON.parse(jsonPathsDocument(EVENT_SOURCE)).jsonpaths).toEqual(EVENT_SOURCE.fields.map((f) => `$['${f.json}']`));
    const copy = copyFromS3({ source: SONG_SOURCE, from: 's3://bkt/k', manifest: false, gzip: true, iamRole: PLAN.iamRole, jsonPaths: 'auto', maxErrors: 5 }).compile(
      new Kysely<any>({ dialect: new PostgresDialect({ pool: async () => ({}) as never }) }),
    );
    // A budget of 5 is MAXERROR 6: the COPY reference fails a load at MAXERROR errors or more.
    expect(copy.sql).toMatch(/format as json 'auto' gzip maxerror 6 compupdate off statupdate off$/);
  });
});
