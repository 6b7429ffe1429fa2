import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { connect } from '../src/index.js';
import { createTestDatabase, openTestWarehouse } from './helpers/db.js';

describe('connect()', () => {
  it('where there is no warehouse, says where it looked and how to point at one, and creates nothing', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sparkify-connect-'));
    const home = path.join(dir, 'nowhere');
    const db = connect({ home, config: { databaseUrl: undefined } });
    try {
      const error = await db.selectFrom('songplays').selectAll().execute().catch((e: Error) => e);
      expect((error as Error).message).toMatch(new RegExp(`No Sparkify warehouse at ${home} \\(SPARKIFY_HOME, default ./.sparkify\\): no embedded warehouse there`));
      expect((error as Error).message).toMatch(/SPARKIFY_HOME=.*DATABASE_URL=.*connect\(\{ home/);
      expect(existsSync(home)).toBe(false);
    } finally {
      await db.destroy();
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('a database without the star schema is no warehouse either; one with it answers', async () => {
    const { url, drop } = await createTestDatabase();
    const empty = connect({ config: { databaseUrl: url } });
    try {
      await expect(empty.selectFrom('songplays').selectAll().execute()).rejects.toThrow(/has no star schema/);
    } finally {
      await empty.destroy();
      await drop();
    }
    const wh = await openTestWarehouse();
    const db = connect({ config: { databaseUrl: wh.url } });
    try {
      expect(await db.selectFrom('songplays').selectAll().execute()).toEqual([]);
    } finally {
      await db.destroy();
      await wh.close();
    }
  });
});
