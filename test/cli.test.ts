import fs from 'node:fs/promises';
import { Writable } from 'node:stream';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from './helpers/db.js';
import { ROOT, run, sparkify } from './helpers/cli.js';
import { readEvents, readSongs, expectedStar } from './helpers/expected.js';
import { HAS_SAMPLE, SAMPLE_DIR, event, writeTree } from './helpers/files.js';

describe('sparkify CLI', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(() => database.drop());

  it.each(['etl', 'runs', 'check', 'query', 'docs', 'migrate', 'generate', 'demo'])('%s --help explains the command', async (command) => {
    const result = await sparkify([command, '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`sparkify ${command}\\b`));
    expect(result.stdout).toContain('--help');
  });

  it('docs --check passes on a README with the current diagram, and on a stale one exits 1 saying what is stale and how to fix it', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sparkify-docs-'));
    try {
      const readme = path.join(dir, 'README.md');
      const fresh = await fs.readFile(path.join(ROOT, 'README.md'), 'utf8');
      await fs.writeFile(readme, fresh);
      const env = { DATABASE_URL: database.url };
      const current = await sparkify(['docs', '--check', '--readme', readme], env);
      expect(current.code, current.stderr).toBe(0);
      expect(current.stdout).toContain('the schema diagram is current');

      // A column the schema has, missing from the diagram.
      const stale = fresh.replace('        double song_length\n', '');
      expect(stale).not.toBe(fresh);
      await fs.writeFile(readme, stale);
      const checked = await sparkify(['docs', '--check', '--readme', readme], env);
      expect(checked.code).toBe(1);
      expect(checked.stderr).toContain(`${readme} has a stale schema diagram: run npm run docs:schema`);
      expect(await fs.readFile(readme, 'utf8')).toBe(stale); // --check only reports

      const written = await sparkify(['docs', '--readme', readme], env);
      expect(written.code, written.stderr).toBe(0);
      expect(await fs.readFile(readme, 'utf8')).toBe(fresh);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('names a bad setting and exits non-zero without printing its value', async () => {
    const result = await sparkify(['etl'], { DATABASE_URL: 'mysql://root:s3cret@h/db' });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/DATABASE_URL: must be a URL/);
    expect(result.stderr + result.stdout).not.toContain('s3cret');
  });

  it('refuses an unknown command with usage help', async () => {
    const result = await sparkify(['etll']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/Unknown argument: etll/);
  });

  it('says which directory is missing', async () => {
    const result = await sparkify(['etl', '--songs', '/no/such/songs', '--logs', '/tmp'], { DATABASE_URL: database.url });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('Song (--songs) directory not found: /no/such/songs');
  });

  it('fails on a bad record, naming file and line, and never prints the password', async () => {
    const logs = await writeTree({ 'bad.json': `${event({})}\n{"page": "Home"}\n` });
    const songs = await writeTree({});
    const result = await sparkify(['etl', '--allow-empty', '--songs', songs, '--logs', logs], { DATABASE_URL: database.url });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${path.join(logs, 'bad.json')}:2: missing required field "ts"`);
    expect(result.stderr + result.stdout).not.toContain(new URL(database.url).password);
  });

  it('demo generates data, loads it into its own embedded warehouse and shows the top songs', async () => {
    const home = await fs.mkdtemp(path.join(os.tmpdir(), 'sparkify-demo-'));
    await fs.chmod(home, 0o755);
    try {
      const result = await sparkify(['demo', '--json'], { SPARKIFY_HOME: home, DATABASE_URL: '' });
      expect(result.code, result.stderr).toBe(0);
      const summary = JSON.parse(result.stdout);
      const dataDir = path.join(home, 'demo', 'data');
      const expected = expectedStar(readSongs(path.join(dataDir, 'song_data')), readEvents(path.join(dataDir, 'log_data')));
      expect(summary.tables).toEqual(Object.fromEntries(Object.entries(expected).map(([t, rows]) => [t, rows.length])));
      expect(summary.checks.filter((c: { severity: string }) => c.severity === 'error').every((c: { passed: boolean }) => c.passed)).toBe(true);
      const matched = expected.songplays.filter((p) => p.song_id).length;
      expect(summary.catalogue).toEqual({ plays: expected.songplays.length, matched, rate: matched / expected.songplays.length });
      // Top songs as played, counted here from the expected plays.
      const plays = new Map<string, number>();
      for (const p of expected.songplays) plays.set(`${p.song_title}\u0000${p.artist_name}`, (plays.get(`${p.song_title}\u0000${p.artist_name}`) ?? 0) + 1);
      const top = [...plays.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 5);
      expect(summary.topSongs.map((s: { title: string; artist_name: string; plays: number }) => [`${s.title}\u0000${s.artist_name}`, s.plays])).toEqual(top);
    } finally {
      await fs.rm(home, { recursive: true, force: true });
    }
  });

  it.skipIf(!HAS_SAMPLE)('migrates with kysely-ctl and loads the real sample through DATABASE_URL, twice', async () => {
    const env = { DATABASE_URL: database.url };
    const migrate = await run(path.join(ROOT, 'node_modules/.bin/kysely'), ['migrate:latest', '--no-outdated-check'], env);
    expect(migrate.code, migrate.stderr).toBe(0);
    const songsDir = path.join(SAMPLE_DIR, 'song_data');
    const logsDir = path.join(SAMPLE_DIR, 'log_data');
    const expected = expectedStar(readSongs(songsDir), readEvents(logsDir));
    const counts = Object.fromEntries(Object.entries(expected).map(([t, rows]) => [t, rows.length]));

    const first = await sparkify(['etl', '--songs', songsDir, '--logs', logsDir, '--json'], env);
    expect(first.code, first.stderr).toBe(0);
    const summary = JSON.parse(first.stdout);
    expect(summary.files).toEqual({ songs: 71, events: 30 });
    expect(summary.staged).toEqual({ songs: 71, events: 8056 });
    expect(summary.tables).toEqual(counts);

    const second = JSON.parse((await sparkify(['etl', '--songs', songsDir, '--logs', logsDir, '--json'], env)).stdout);
    expect(second.tables).toEqual(counts);
    for (const t of Object.values(second.transform)) expect(t).toMatchObject({ inserted: 0, updated: 0 });
  });

  it('tables and CSV tell NULL from an empty string', async () => {
    const sql = `select null::text as a, ''::text as b, 'x' as c`;
    const shown = await sparkify(['query', sql], { DATABASE_URL: database.url });
    expect(shown.stdout).toBe('a     b  c\n----  -  -\nNULL     x\n');
    const csv = await sparkify(['query', sql, '--csv'], { DATABASE_URL: database.url });
    expect(csv.stdout).toBe('a,b,c\n,"",x\n');
  });

  it('the progress bar never shows a placeholder cli-progress could not fill', async () => {
    const { consoleProgress } = await import('../src/cli/progress.js');
    const frames: string[] = [];
    const tty = Object.assign(new Writable({ write: (chunk, _enc, done) => void (frames.push(String(chunk)), done()) }), { isTTY: true, columns: 120 });
    const progress = consoleProgress(tty as unknown as NodeJS.WriteStream);
    const pause = () => new Promise((r) => setTimeout(r, 150));
    progress.phase('Staging 1 song and 2 log files', 135e6);
    // No measurable progress yet: cli-progress's estimate is then the text NULL (no time passed) or INF.
    progress.advance(1e5);
    await pause();
    progress.advance(1e5);
    await pause();
    progress.advance(80e6);
    await pause();
    progress.done();
    const text = frames.join('');
    expect(text).toContain('0/135 MB');
    expect(text).toContain('80/135 MB');
    expect(text).not.toMatch(/NULL|INF|NaN|undefined|\{\w+\}/);
  });
});
