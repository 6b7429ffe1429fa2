// The package as a user gets it: `npm pack`, installed into an empty folder, gives a working
// `sparkify` command (no tsx, no TypeScript) and an importable library.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, run, type RunResult } from './helpers/cli.js';
import { expectedStar, readEvents, readSongs } from './helpers/expected.js';

const npm = (args: string[], cwd: string) => promisify(execFile)('npm', args, { cwd, maxBuffer: 16 << 20 });

describe('the packed package, installed', () => {
  let dir: string;
  let app: string;
  let tarball: string;
  let env: Record<string, string>;
  const installed = (args: string[]): Promise<RunResult> =>
    new Promise((resolve) => {
      // Run the bin through its symlink and shebang, as a shell would.
      execFile(path.join(app, 'node_modules/.bin/sparkify'), args, { cwd: app, env: { ...process.env, ...env } }, (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
      });
    });

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sparkify-pack-'));
    await fs.chmod(dir, 0o755); // the embedded server may run as the "postgres" OS user
    // dist/ is current: `npm test` builds it before the tests (and `npm pack` alone would, through prepare).
    const [packed] = JSON.parse((await npm(['pack', '--ignore-scripts', '--json', '--pack-destination', dir], ROOT)).stdout);
    tarball = path.join(dir, packed.filename);
    app = path.join(dir, 'app');
    await fs.mkdir(app, { mode: 0o755 });
    // An empty project that depends on the tarball. The clone's lockfile pins the same versions of the
    // shared dependencies, so the install works from npm's cache, offline, as in CI after `npm ci`;
    // dev dependencies (tsx, TypeScript) are not installed.
    const project = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    await fs.writeFile(
      path.join(app, 'package.json'),
      JSON.stringify({
        name: 'sparkify-install-test',
        private: true,
        type: 'module',
        dependencies: { 'sparkify-dwh': `file:${tarball}` },
        allowScripts: project.allowScripts,
      }),
    );
    await fs.copyFile(path.join(ROOT, 'package-lock.json'), path.join(app, 'package-lock.json'));
    const install = ['install', '--no-audit', '--no-fund', '--omit=dev'];
    await npm([...install, '--offline'], app).catch(() => npm([...install, '--prefer-offline'], app));
    env = { SPARKIFY_HOME: path.join(dir, 'home'), DATABASE_URL: '' };
  }, 300_000);
  afterAll(() => fs.rm(dir, { recursive: true, force: true }));

  it('ships compiled JavaScript and the migrations, not the TypeScript sources or tests', async () => {
    const { stdout } = await promisify(execFile)('tar', ['-tzf', tarball]);
    const files = stdout.split('\n').filter(Boolean);
    expect(files).toContain('package/bin/sparkify.js');
    expect(files).toContain('package/dist/src/cli/main.js');
    expect(files).toContain('package/dist/src/index.d.ts');
    expect(files.filter((f) => /^package\/dist\/migrations\/.*\.js$/.test(f)).length).toBe(
      (await fs.readdir(path.join(ROOT, 'migrations'))).filter((f) => f.endsWith('.ts')).length,
    );
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    expect(files.some((f) => f.includes('/test/'))).toBe(false);
    expect(existsSync(path.join(app, 'node_modules/tsx'))).toBe(false);
    expect(existsSync(path.join(app, 'node_modules/typescript'))).toBe(false);
  });

  it('runs: --help, generate, etl on the embedded server, query', async () => {
    const help = await installed(['--help']);
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/^sparkify <command> \[options\]/);

    const data = path.join(dir, 'data');
    const gen = await installed(['generate', '--out', data, '--songs', '30', '--events', '500', '--days', '2']);
    expect(gen.code, gen.stderr).toBe(0);
    const expected = expectedStar(readSongs(path.join(data, 'song_data')), readEvents(path.join(data, 'log_data')));

    const etl = await installed(['etl', '--songs', path.join(data, 'song_data'), '--logs', path.join(data, 'log_data'), '--json']);
    expect(etl.code, etl.stderr).toBe(0);
    expect(JSON.parse(etl.stdout).tables).toEqual(Object.fromEntries(Object.entries(expected).map(([t, rows]) => [t, rows.length])));

    const query = await installed(['query', 'select count(*) as plays, count(song_id) as matched from songplays', '--json']);
    expect(query.code, query.stderr).toBe(0);
    expect(JSON.parse(query.stdout)).toEqual([{ plays: expected.songplays.length, matched: expected.songplays.filter((p) => p.song_id).length }]);
  });

  it('imports as a library', async () => {
    const script = path.join(app, 'use.mjs');
    await fs.writeFile(
      script,
      `import { connect, topSongs } from 'sparkify-dwh';
const db = connect();
const top = await topSongs(db, { limit: 100000 });
await db.destroy();
process.stdout.write(JSON.stringify(top.map((s) => s.plays).reduce((a, b) => a + b, 0)));
`,
    );
    const result = await run(process.execPath, [script], env);
    expect(result.code, result.stderr).toBe(0);
    // topSongs counts every play, as played.
    const { stdout } = await installed(['query', 'select count(*) as n from songplays', '--json']);
    expect(Number(result.stdout)).toBe(JSON.parse(stdout)[0].n);
    expect(Number(result.stdout)).toBeGreaterThan(0);
  });

  it('requires from CommonJS as well (Node 20.19+ loads the ES module for require)', async () => {
    const script = path.join(app, 'use.cjs');
    await fs.writeFile(
      script,
      `const { connect, topSongs } = require('sparkify-dwh');
(async () => {
  const db = connect();
  const [top] = await topSongs(db, { limit: 1 });
  await db.destroy();
  process.stdout.write(JSON.stringify(top));
})();
`,
    );
    const result = await run(process.execPath, [script], env);
    expect(result.code, result.stderr).toBe(0);
    const { stdout } = await installed(['query', 'select song_title as title, artist_name, count(*) as plays from songplays group by 1, 2 order by 3 desc, 1, 2 limit 1', '--json']);
    expect(JSON.parse(result.stdout)).toMatchObject(JSON.parse(stdout)[0]);
  });
});
