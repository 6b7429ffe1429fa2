import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, maskUrl } from '../src/config.js';

describe('loadConfig', () => {
  it('defaults to the embedded server under ./.sparkify', () => {
    const config = loadConfig({}, '/work/x');
    expect(config).toEqual({
      target: 'postgres',
      redshift: undefined,
      home: '/work/x/.sparkify',
      embeddedSettings: 'tuned',
      databaseUrl: undefined,
      songsDir: path.resolve('/work/x/data/song_data'),
      logsDir: path.resolve('/work/x/data/log_data'),
    });
  });

  it('takes the embedded server settings, and names the variable when they are neither tuned nor stock', () => {
    expect(loadConfig({ SPARKIFY_EMBEDDED_SETTINGS: 'stock' }, '/work/x').embeddedSettings).toBe('stock');
    expect(() => loadConfig({ SPARKIFY_EMBEDDED_SETTINGS: 'fast' }, '/work/x')).toThrow('SPARKIFY_EMBEDDED_SETTINGS: must be tuned or stock');
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

  it('reads Redshift settings from REDSHIFT_URL (TLS on unless sslmode=disable) and names what is missing', () => {
    const config = loadConfig({
      SPARKIFY_TARGET: 'redshift',
      REDSHIFT_URL: 'postgres://admin:p%40ss@cluster.abc.us-west-2.redshift.amazonaws.com:5439/dev',
      REDSHIFT_IAM_ROLE: 'arn:aws:iam::123456789012:role/sparkify',
      AWS_REGION: 'us-west-2',
      SPARKIFY_S3_STAGING: 's3://bucket/staging/',
    });
    expect(config.redshift).toEqual({
      host: 'cluster.abc.us-west-2.redshift.amazonaws.com',
      port: 5439,
      database: 'dev',
      user: 'admin',
      password: 'p@ss',
      auth: 'password',
      ssl: true,
      iamRole: 'arn:aws:iam::123456789012:role/sparkify',
      region: 'us-west-2',
      s3Staging: 's3://bucket/staging/',
    });
    expect(loadConfig({ SPARKIFY_TARGET: 'redshift', REDSHIFT_URL: 'postgres://u:p@h/d?sslmode=disable' }).redshift?.ssl).toBe(false);
    expect(() => loadConfig({ SPARKIFY_TARGET: 'redshift', REDSHIFT_HOST: 'h' })).toThrow(/needs REDSHIFT_URL, or REDSHIFT_USER, REDSHIFT_PASSWORD \(missing\)/);
    expect(() => loadConfig({ SPARKIFY_TARGET: 'redshift', REDSHIFT_URL: 'postgres://u:p@h/d', REDSHIFT_IAM_ROLE: "arn:aws:iam::1:role/x'" })).toThrow(/REDSHIFT_IAM_ROLE: must be an IAM role ARN/);
    expect(() => loadConfig({ SPARKIFY_TARGET: 'redshfit' })).toThrow(/SPARKIFY_TARGET: must be postgres, redshift or redshift-emulator/);
  });

  it('reads the connection file the provisioning script writes, the environment taking precedence', async () => {
    const fs = await import('node:fs/promises');
    const os = await import('node:os');
    const home = await fs.mkdtemp(path.join(os.tmpdir(), 'sparkify-cfg-'));
    await fs.writeFile(path.join(home, 'redshift.json'), JSON.stringify({ SPARKIFY_TARGET: 'redshift', REDSHIFT_HOST: 'from-file', REDSHIFT_USER: 'u', REDSHIFT_PASSWORD: 'p' }));
    expect(loadConfig({ SPARKIFY_HOME: home }).redshift?.host).toBe('from-file');
    expect(loadConfig({ SPARKIFY_HOME: home, REDSHIFT_HOST: 'from-env' }).redshift?.host).toBe('from-env');
    await fs.rm(home, { recursive: true });
  });

  it('masks the password of a connection URL', () => {
    expect(maskUrl('postgres://admin:hunter2@db:5432/w')).toBe('postgres://admin:***@db:5432/w');
    expect(maskUrl('postgres://db/w')).toBe('postgres://db/w');
  });
});
