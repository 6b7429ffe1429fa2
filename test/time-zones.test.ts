import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runEtl } from '../src/etl/pipeline.js';
import { generate } from '../src/generate/generator.js';
import { ROOT, run } from './helpers/cli.js';
import { openTestWarehouse, type TestTarget } from './helpers/db.js';
import { expectedStar, readEvents, readSongs } from './helpers/expected.js';
import { writeTree } from './helpers/files.js';

const ZONES = ['UTC', 'America/New_York', 'Asia/Tokyo', 'Australia/Lord_Howe'];

describe.each([{ target: 'postgres' }, { target: 'redshift-emulator' }] as TestTarget[])('the same instant in every time zone ($target)', (target) => {
  let wh: Awaited<ReturnType<typeof openTestWarehouse>>;
  let expected: ReturnType<typeof expectedStar>;
  beforeAll(async () => {
    const data = await writeTree({});
    await generate({ out: data, songs: 30, events: 3000, seed: 5, days: 4 });
    wh = await openTestWarehouse(target);
    await runEtl(wh, { songsDir: path.join(data, 'song_data'), logsDir: path.join(data, 'log_data') });
    expected = expectedStar(readSongs(path.join(data, 'song_data')), readEvents(path.join(data, 'log_data')));
  });
  afterAll(() => wh?.close());

  it.each(ZONES)('TZ=%s: helpers and run bookkeeping answer as in UTC', async (zone) => {
    const env = { TZ: zone, DATABASE_URL: wh.url, SPARKIFY_TARGET: target.target, SPARKIFY_S3_ROOT: wh.s3Root };
    const result = await run(process.execPath, ['--import', 'tsx', path.join(ROOT, 'test/helpers/tz-probe.ts'), randomUUID()], env);
    expect(result.code, result.stderr).toBe(0);
    const answer = JSON.parse(result.stdout);
    // Expected from the files: plays in [03 Nov 05:00, 04 Nov 05:00) UTC, by UTC hour.
    const from = Date.UTC(2018, 10, 3, 5);
    const to = Date.UTC(2018, 10, 4, 5);
    const inWindow = expected.songplays.filter((p) => p.start_time.getTime() >= from && p.start_time.getTime() < to);
    expect(inWindow.length).toBeGreaterThan(0);
    expect(answer.hours.map((h: { plays: number }) => h.plays)).toEqual([...Array(24).keys()].map((h) => inWindow.filter((p) => p.start_time.getUTCHours() === h).length));
    expect(answer.days.map((d: { day: number }) => d.day)).toEqual([3, 4]);
    expect(answer.startedAt).toBe('2020-01-02T03:04:05.678Z');
    expect(answer.startedAtStored).toBe('2020-01-02 03:04:05.678');
    expect(new Date(answer.activity.first_play).getTime()).toBe(Math.min(...expected.songplays.filter((p) => p.user_id === answer.activity.user_id).map((p) => p.start_time.getTime())));
  });
});
