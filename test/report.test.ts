import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'kysely';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportData } from '../src/report/data.js';
import { reportHtml } from '../src/report/html.js';
import { ROOT, sparkify } from './helpers/cli.js';
import { openLoadedWarehouse, openTestWarehouse } from './helpers/db.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = path.join(ROOT, 'test-artifacts');
// CI installs Debian's chromium (.ci/run): there a missing browser is a failure, not a skip.
const HAS_CHROMIUM = existsSync(CHROMIUM);
if (!HAS_CHROMIUM && !process.env.CI) console.warn(`Skipping the report's browser tests: ${CHROMIUM} not found (apt-get install chromium).`);

describe.skipIf(!HAS_CHROMIUM && !process.env.CI)('the report page in a real browser', () => {
  let wh: Awaited<ReturnType<typeof openTestWarehouse>>;
  let browser: Browser;
  let file: string;
  beforeAll(async () => {
    wh = await openLoadedWarehouse(9);
    await fs.mkdir(ARTIFACTS, { recursive: true });
    file = path.join(ARTIFACTS, 'report.html');
    await fs.writeFile(file, reportHtml(await reportData(wh.db)));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await wh?.close();
  });

  it('renders every chart with the marks the data implies and the figures SQL gives, with no console error and no network', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems: string[] = [];
    page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    page.on('pageerror', (e) => problems.push(e.message));
    const requests: string[] = [];
    page.on('request', (r) => !r.url().startsWith('file:') && requests.push(r.url()));
    await page.goto(`file://${file}`);
    await page.waitForSelector('body[data-rendered="true"]', { timeout: 20_000 });

    const chart = (id: string) =>
      page.evaluate((id) => {
        const g = globalThis as any; // (the page's globals: this runs in the browser)
        const c = g.Chart.getChart(g.document.getElementById(id));
        return { labels: c.data.labels as string[], values: c.data.datasets[0].data as number[], marks: c.getDatasetMeta(0).data.length as number };
      }, id);
    const q = async <T>(text: ReturnType<typeof sql<T>>) => (await text.execute(wh.db)).rows;

    const hours = await q(sql<{ h: number; n: number }>`select cast(date_part('hour', start_time) as int) as h, count(*) as n from songplays group by 1`);
    const byHour = await chart('chart-by-hour');
    expect(byHour.marks).toBe(24);
    expect(byHour.values).toEqual([...Array(24).keys()].map((h) => hours.find((r) => r.h === h)?.n ?? 0));

    const weekdays = await q(sql<{ d: number; n: number }>`select cast(date_part('dow', start_time) as int) as d, count(*) as n from songplays group by 1`);
    const byWeekday = await chart('chart-by-weekday');
    expect(byWeekday.marks).toBe(7);
    expect(byWeekday.values).toEqual([...Array(7).keys()].map((d) => weekdays.find((r) => r.d === d)?.n ?? 0));

    const days = await q(sql<{ d: string; n: number }>`select to_char(start_time, 'YYYY-MM-DD') as d, count(*) as n from songplays group by 1 order by 1`);
    const byDay = await chart('chart-by-day');
    expect(byDay.marks).toBe(days.length);
    expect(byDay.labels).toEqual(days.map((r) => r.d));
    expect(byDay.values).toEqual(days.map((r) => r.n));

    const dau = await q(sql<{ n: number }>`select count(distinct user_id) as n from songplays group by to_char(start_time, 'YYYY-MM-DD') order by to_char(start_time, 'YYYY-MM-DD')`);
    expect((await chart('chart-active-users')).values).toEqual(dau.map((r) => r.n));

    const songs = await q(sql<{ t: string; a: string; n: number }>`select song_title as t, artist_name as a, count(*) as n from songplays group by 1, 2 order by 3 desc, 1, 2 limit 10`);
    const topSongs = await chart('chart-top-songs');
    expect(topSongs.marks).toBe(songs.length);
    expect(topSongs.labels).toEqual(songs.map((r) => `${r.t} — ${r.a}`));
    expect(topSongs.values).toEqual(songs.map((r) => r.n));
    const artists = await q(sql<{ a: string; n: number }>`select artist_name as a, count(*) as n from songplays group by 1 order by 2 desc, 1 limit 10`);
    expect((await chart('chart-top-artists')).values).toEqual(artists.map((r) => r.n));

    const levels = await q(sql<{ l: string; n: number }>`select level as l, count(*) as n from songplays group by 1 order by 1`);
    const byLevel = await chart('chart-levels');
    expect(byLevel.marks).toBe(levels.length);
    expect(byLevel.values).toEqual(levels.map((r) => r.n));

    const figure = (name: string) => page.textContent(`[data-figure="${name}"]`);
    const [totals] = await q(sql<{ plays: number; matched: number; users: number }>`select count(*) as plays, count(song_id) as matched, count(distinct user_id) as users from songplays`);
    expect(await figure('plays')).toBe(String(totals!.plays));
    expect(await figure('listeners')).toBe(String(totals!.users));
    expect(await figure('match-rate')).toBe(`${((100 * totals!.matched) / totals!.plays).toFixed(totals!.matched / totals!.plays < 0.01 ? 2 : 1)}%`);
    const [upgraded] = await q(sql<{ n: number }>`select count(*) as n from (select user_id from songplays p where level = 'paid'
      and exists (select 1 from songplays f where f.user_id = p.user_id and f.level = 'free' and f.start_time < p.start_time) group by user_id) u`);
    expect(await figure('upgraded')).toBe(String(upgraded!.n));
    expect(await page.locator('#upgraded tr').count()).toBe(upgraded!.n + 1);
    const [rejected] = await q(sql<{ n: number }>`select count(*) as n from load_errors`);
    expect(await figure('rejected')).toBe(String(rejected!.n));
    expect(await page.locator('#runs tr').count()).toBeGreaterThan(1);

    expect(problems).toEqual([]);
    expect(requests).toEqual([]);
    await page.screenshot({ path: path.join(ARTIFACTS, 'report.png'), fullPage: true });
    expect((await fs.stat(path.join(ARTIFACTS, 'report.png'))).size).toBeGreaterThan(10_000);
  }, 60_000);

  it('sparkify report writes the page for a period', async () => {
    const out = path.join(ARTIFACTS, 'report-cli.html');
    // The busiest day of the warehouse (the sample's, or the generated stand-in's where it is absent).
    const [day] = (
      await sql<{ day: string; n: number }>`select to_char(start_time, 'YYYY-MM-DD') as day, count(*)::int as n from songplays group by 1 order by 2 desc, 1 limit 1`.execute(wh.db)
    ).rows;
    const next = new Date(Date.parse(`${day!.day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
    const result = await sparkify(['report', '--out', out, '--from', day!.day, '--to', next], { DATABASE_URL: wh.url });
    expect(result.code, result.stderr).toBe(0);
    expect(day!.n).toBeGreaterThan(0);
    expect(result.stdout).toMatch(new RegExp(`^Wrote .*report-cli.html: ${day!.n} plays, top song "`));
    expect(await fs.readFile(out, 'utf8')).toContain(`<b data-figure="plays">${day!.n}</b>`);
    const bad = await sparkify(['report', '--from', '2018-13-01'], { DATABASE_URL: wh.url });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--from must be a date written YYYY-MM-DD/);
    for (const [from, to] of [['2018-11-30', '2018-11-15'], ['2018-11-15', '2018-11-15']]) {
      const empty = await sparkify(['report', '--out', out, '--from', from!, '--to', to!], { DATABASE_URL: wh.url });
      expect([empty.code, empty.stderr]).toEqual([2, expect.stringContaining(`--from ${from} is not before --to ${to}`)]);
    }
  });

  it('a period without plays says nothing about how many of them match the catalogue', async () => {
    const { reportData } = await import('../src/report/data.js');
    const { reportHtml } = await import('../src/report/html.js');
    const none = reportHtml(await reportData(wh.db, { from: new Date('2001-01-01T00:00:00Z'), to: new Date('2001-01-02T00:00:00Z') }));
    expect(none).toContain('<b data-figure="plays">0</b>');
    expect(none).not.toContain('Most plays match no song');
    expect(none).toContain('No plays in this period.');
    // The period in UTC, its end not included, as --to and the helpers take it.
    expect(none).toContain('Period: from 2001-01-01 UTC up to 2001-01-02 UTC, not included');
    // Plays in the warehouse say it when most match no song (the sample's: 1 of 6,820 matched).
    const all = reportHtml(await reportData(wh.db, {}));
    const [rate] = (await sql<{ unmatched: boolean }>`select count(song_id) < count(*) / 2.0 as unmatched from songplays`.execute(wh.db)).rows;
    if (rate!.unmatched) expect(all).toContain('Most plays match no song');
    else expect(all).not.toContain('Most plays match no song');
    expect(all).toContain('Period: all plays');
    expect(all).not.toContain('No plays in this period.');
  });
});
