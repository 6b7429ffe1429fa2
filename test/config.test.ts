import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, maskUrl } from '../src/config.js';

describe('loadConfig', () => {
  it('defaults to the embedded server under ./.sparkify', () => {
    const config = loadConfig({}, '/work/x');
    expect(config).toEqual({
      home: '/work/x/.sparkify',
      databaseUrl: undefined,
      songsDir: path.resolve('/work/x/data/song_data'),
      logsDir: path.resolve('/work/x/data/log_data'),
    });
  });

  it('takes SPARKIFY_HOME, DATABASE_URL and the data directories from the environment', () => {
    const config = loadConfig(
      { SPARKIFY_HOME: 'h', DATABASE_URL: 'postgres://u:p@db:5432/w', SPARKIFY_SONGS: '/s', SPARKIFY_LOGS: 'l' },
      '/c',
    );
    expect(config).toMatchObject({ home: '/c/h', databaseUrl: 'postgres://u:p@db:5432/w', songsDir: '/s', logsDir: '/c/l' });
  });

  it('names a bad setting without echoing its value', () => {
    const secret = 'mysql://admin:hunter2@db/w';
    expect(() => loadConfig({ DATABASE_URL: secret })).toThrow(ConfigError);
    try {
      loadConfig({ DATABASE_URL: secret });
    } catch (error) {
      expect((error as Error).message).toMatch(/^Invalid configuration: DATABASE_URL: must be a URL/);
      expect((error as Error).message).not.toContain('hunter2');
    }
  });

  it('masks the password of a connection URL', () => {
    expect(maskUrl('postgres://admin:hunter2@db:5432/w')).toBe('postgres://admin:***@db:5432/w');
    expect(maskUrl('postgres://db/w')).toBe('postgres://db/w');
  });
});
