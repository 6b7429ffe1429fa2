import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, run } from '../helpers/cli.js';
import { openLoadedWarehouse, openTestWarehouse } from '../helpers/db.js';
import { HAS_SAMPLE } from '../helpers/files.js';

const NOTEBOOK = path.join(ROOT, 'examples/analysis.ipynb');
// Debian's Python, where apt puts jupyter_client (a pyenv python3 on PATH would not have it).
const PYTHON = '/usr/bin/python3';
type Output = { output_type: string; data?: Record<string, any>; text?: string };
type Cell = { cell_type: string; source: string[]; outputs?: Output[]; execution_count?: number | null };

describe('examples/analysis.ipynb on Deno’s Jupyter kernel', () => {
  let wh: Awaited<ReturnType<typeof openTestWarehouse>>;
  let dir: string;
  let executed: { cells: Cell[] };
  beforeAll(async () => {
    wh = await openLoadedWarehouse(4);
    // The package as an analyst has it: by name, from node_modules, compiled.
    expect((await run('npm', ['run', 'build'])).code).toBe(0);
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sparkify-notebook-'));
    await fs.mkdir(path.join(dir, 'node_modules'));
    await fs.symlink(ROOT, path.join(dir, 'node_modules/sparkify-dwh'));
    await fs.symlink(path.join(ROOT, 'node_modules/@types'), path.join(dir, 'node_modules/@types'));
    await fs.writeFile(path.join(dir, 'package.json'), '{"type":"module"}');
    // A kernelspec of our own (JUPYTER_PATH), for the deno binary from npm: nothing is installed in $HOME.
    const deno = path.join(ROOT, 'node_modules/.bin/deno');
    await fs.mkdir(path.join(dir, 'jupyter/kernels/sparkify-deno'), { recursive: true });
    await fs.writeFile(
      path.join(dir, 'jupyter/kernels/sparkify-deno/kernel.json'),
      JSON.stringify({ argv: [deno, 'jupyter', '--kernel', '--conn', '{connection_file}'], display_name: 'Deno', language: 'typescript' }),
    );
    const out = path.join(dir, 'executed.ipynb');
    execFileSync(PYTHON, [path.join(ROOT, 'test/notebooks/run-notebook.py'), NOTEBOOK, out, 'sparkify-deno', '120'], {
      cwd: dir,
      env: { ...process.env, JUPYTER_PATH: path.join(dir, 'jupyter'), DATABASE_URL: wh.url, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    executed = JSON.parse(await fs.readFile(out, 'utf8'));
  });
  afterAll(async () => {
    await wh?.close();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  const outputs = () => executed.cells.flatMap((c) => c.outputs ?? []);
  const charts = () => outputs().filter((o) => o.data?.['application/vnd.vegalite.v5+json']).map((o) => o.data!['application/vnd.vegalite.v5+json']);
  const chart = (title: string) => charts().find((c) => c.title === title);
  const rows = async <T>(query: ReturnType<typeof sql<T>>) => (await query.execute(wh.db)).rows;

  it('is committed without outputs', async () => {
    const committed: { cells: Cell[] } = JSON.parse(await fs.readFile(NOTEBOOK, 'utf8'));
    for (const c of committed.cells.filter((c) => c.cell_type === 'code')) {
      expect(c.outputs).toEqual([]);
      expect(c.execution_count ?? null).toBeNull();
    }
  });

  it('runs every cell without an error and shows the match rate and the top songs as played', async () => {
    expect(outputs().filter((o) => o.output_type === 'error')).toEqual([]);
    const markdown = outputs().map((o) => o.data?.['text/markdown']).filter(Boolean).join('\n');
    const [totals] = await rows(sql<{ plays: number; matched: number }>`select count(*) as plays, count(song_id) as matched from songplays`);
    expect(markdown).toContain(`**${totals!.plays}** plays, of which **${totals!.matched}**`);
    const top = await rows(sql<{ t: string; a: string; n: number }>`select song_title as t, artist_name as a, count(*) as n from songplays group by 1, 2 order by 3 desc, 1, 2 limit 10`);
    top.forEach((r, i) => expect(markdown).toContain(`| ${i + 1} | ${r.t.replaceAll('|', '\\|')} | ${r.a.replaceAll('|', '\\|')} | ${r.n} |`));
    if (HAS_SAMPLE) expect(markdown).toContain("| 1 | You're The One | Dwight Yoakam | 37 |");
  });

  it('draws four charts whose data equal SQL run by hand', async () => {
    expect(charts()).toHaveLength(4);
    const hours = await rows(sql<{ h: number; n: number }>`select cast(date_part('hour', start_time) as int) as h, count(*) as n from songplays group by 1`);
    expect(chart('Plays per hour (UTC)').data.values).toEqual([...Array(24).keys()].map((h) => ({ hour: h, plays: hours.find((r) => r.h === h)?.n ?? 0 })));
    const songs = await rows(sql<{ t: string; a: string; n: number }>`select song_title as t, artist_name as a, count(*) as n from songplays group by 1, 2 order by 3 desc, 1, 2 limit 10`);
    expect(chart('Top songs as played').data.values).toEqual(songs.map((r) => ({ song: `${r.t} — ${r.a}`, plays: r.n })));
    const artists = await rows(sql<{ a: string; n: number }>`select artist_name as a, count(*) as n from songplays group by 1 order by 2 desc, 1 limit 10`);
    expect(chart('Top artists as played').data.values).toEqual(artists.map((r) => ({ artist: r.a, plays: r.n })));
    const levels = await rows(sql<{ l: string; n: number; u: number }>`select level as l, count(*) as n, count(distinct user_id) as u from songplays group by 1 order by 1`);
    expect(chart('Plays by level at the time of play').data.values).toEqual(levels.map((r) => ({ level: r.l, plays: r.n, users: r.u })));
  });

  it('type-checks: the exported script passes deno check under strict', async () => {
    const script = execFileSync('jupyter', ['nbconvert', '--to', 'script', '--stdout', NOTEBOOK], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    await fs.writeFile(path.join(dir, 'analysis.ts'), script);
    // Sloppy imports: the package's declaration files import './x.js', meaning ./x.d.ts, as tsc does.
    const check = await run(path.join(ROOT, 'node_modules/.bin/deno'), ['check', '--unstable-sloppy-imports', path.join(dir, 'analysis.ts')], { NO_COLOR: '1' });
    expect(check.code, check.stdout + check.stderr).toBe(0);
  });
});
