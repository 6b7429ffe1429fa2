import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { openWarehouse, type Warehouse } from '../../src/db/connection.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { runChecks } from '../../src/etl/checks.js';
import { runEtl } from '../../src/etl/pipeline.js';
import { expectedStar, readEvents, readSongs } from '../helpers/expected.js';
import { HAS_SAMPLE, SAMPLE_DIR } from '../helpers/files.js';

// The whole pipeline on a real Redshift cluster: opt-in, as it costs money and needs AWS.
// Set SPARKIFY_TARGET=redshift, REDSHIFT_URL or REDSHIFT_HOST (with REDSHIFT_AUTH=iam, or REDSHIFT_USER/PASSWORD), REDSHIFT_IAM_ROLE,
// AWS_REGION and SPARKIFY_S3_STAGING (plus AWS credentials for the upload), then: npm run test:redshift
const live = process.env.SPARKIFY_TARGET === 'redshift' && (process.env.REDSHIFT_URL || process.env.REDSHIFT_HOST);
if (!live) console.warn('Redshift live suite skipped: set SPARKIFY_TARGET=redshift and the REDSHIFT_* settings to run it.');

describe.skipIf(!live || !HAS_SAMPLE)('live Redshift: migrate, stage from S3, transform, check', () => {
  let wh: Warehouse;
  beforeAll(async () => {
    wh = openWarehouse({ config: loadConfig() });
    await migrateToLatest(wh.db);
  }, 600_000);
  afterAll(() => wh?.destroy());

  it('loads the real sample into exactly the star schema the rules define, twice', async () => {
    const songsDir = path.join(SAMPLE_DIR, 'song_data');
    const logsDir = path.join(SAMPLE_DIR, 'log_data');
    const expected = expectedStar(readSongs(songsDir), readEvents(logsDir));
    const first = await runEtl(wh, { songsDir, logsDir, fullRefresh: true });
    expect(first.staged).toEqual({ songs: 71, events: 8056 });
    for (const [table, rows] of Object.entries(expected)) expect(first.tables[table as keyof typeof first.tables]).toBeGreaterThanOrEqual(rows.length);
    const second = await runEtl(wh, { songsDir, logsDir, fullRefresh: true });
    for (const counts of Object.values(second.transform)) expect(counts).toMatchObject({ inserted: 0, updated: 0 });
    expect((await runChecks(wh.db)).filter((c) => !c.passed && c.severity === 'error')).toEqual([]);
  }, 1_800_000);
});
