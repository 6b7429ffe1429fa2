// Bad options: every whole-number option of every command refuses a word, a negative, a fraction
// and an out-of-range value, naming the option as typed; the commands exit 2 before doing anything.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from '../src/cli/commands.js';
import { sparkify } from './helpers/cli.js';

const PLAN = ['plan', '--songs', 's3://bucket/song_data', '--logs', 's3://bucket/log_data', '--iam-role', 'arn:aws:iam::123456789012:role/r', '--region', 'us-west-2', '--s3-staging', 's3://bucket/staging/'];
const PROVISION = ['provision', '--region', 'us-west-2', '--s3', 's3://my-bucket/sparkify/', '--dry-run'];
const TEARDOWN = ['teardown', '--region', 'us-west-2', '--dry-run'];

/** Each whole-number option: the command line before it, its name, and its range. */
const OPTIONS: [string[], string, number, number][] = [
  [['etl'], 'max-errors', 0, 99_999],
  [['etl'], 'workers', 0, 64],
  [['runs'], 'limit', 1, 10_000],
  [PLAN, 'max-errors', 0, 99_999],
  [['generate', '--out', '/nonexistent/out'], 'songs', 0, 10_000_000],
  [['generate', '--out', '/nonexistent/out'], 'events', 0, 1_000_000_000],
  [['generate', '--out', '/nonexistent/out'], 'days', 1, 36_500],
  [['generate', '--out', '/nonexistent/out'], 'seed', 0, 2 ** 32 - 1],
  [PROVISION, 'nodes', 1, 128],
  [PROVISION, 'port', 1150, 65535],
  [PROVISION, 'wait-seconds', 1, 86_400],
  [PROVISION, 'base-capacity', 8, 1024],
  [TEARDOWN, 'wait-seconds', 1, 86_400],
];

const BAD = (min: number, max: number): [string, RegExp][] => [
  ['abc', /must be a whole number \(got "abc"\)/],
  ['', /must be a whole number/],
  [String(min - 1), /must be between/],
  ['2.5', /a whole number, not a fraction/],
  [String(max + 1), /must be between/],
];

/** Parses in-process with the real yargs setup; resolves to the error it raised, if any. */
async function parseError(argv: string[]): Promise<Error | undefined> {
  try {
    await cli(argv).parseAsync();
    return undefined;
  } catch (error) {
    return error as Error;
  }
}

describe('numeric options', () => {
  describe.each(OPTIONS)('%j --%s', (before, flag, min, max) => {
    it.each(BAD(min, max))('refuses %j, naming --' + flag, async (value, reason) => {
      const error = await parseError([...before, `--${flag}`, value]);
      expect(error?.message).toMatch(new RegExp(`^--${flag} `));
      expect(error?.message).toMatch(reason);
    });
  });

  it('accepts the ends of a range', async () => {
    const out = await fs.mkdtemp(path.join(os.tmpdir(), 'sparkify-gen-'));
    try {
      const result = await sparkify(['generate', '--out', out, '--songs', '0', '--events', '0', '--days', '1', '--seed', String(2 ** 32 - 1)]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain('Wrote 0 song files');
    } finally {
      await fs.rm(out, { recursive: true, force: true });
    }
  });

  it.each([
    [['etl', '--max-errors', 'abc'], '--max-errors must be a whole number (got "abc")'],
    [['etl', '--max-errors', '-1'], '--max-errors must be between 0 and 99999 (got -1)'],
    [['runs', '--limit', 'abc'], '--limit must be a whole number (got "abc")'],
    [['provision', '--region', 'us-west-2', '--managed-s3-read-only', '--base-capacity', '12', '--dry-run'], '--base-capacity: Number must be a multiple of 8'],
  ])('sparkify %j exits 2 before connecting, naming the option', async (argv, message) => {
    // A warehouse that cannot be reached: any attempt to connect would say so instead.
    const result = await sparkify(argv, { DATABASE_URL: 'postgres://u:p@127.0.0.1:1/db' });
    expect(result.code).toBe(2);
    expect(result.stderr.split('\n')[0]).toContain(message.split(':')[0]);
    if (!argv.includes('--base-capacity')) expect(result.stderr).toContain(message);
    expect(result.stderr).toContain('Run with --help for usage.');
    expect(result.stderr).not.toMatch(/connect|maxErrors|baseCapacity/);
  });
});

describe('provision and teardown options', () => {
  const env = { AWS_REGION: '', AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_PROFILE: 'none-such', AWS_EC2_METADATA_DISABLED: 'true' };

  it.each([['provision'], ['provision', '--status'], ['provision', '--dry-run', '--s3', 's3://my-bucket/x/'], ['teardown'], ['teardown', '--yes']])(
    'sparkify %j without a region says so in one line',
    async (...argv) => {
      const result = await sparkify(argv, env);
      expect(result.code).toBe(2);
      expect(result.stderr).toBe('sparkify: Name the AWS region: --region us-west-2 (or set AWS_REGION).\nRun with --help for usage.\n');
    },
  );

  it('--status needs only the region: it asks AWS (here without credentials) and does not want --s3', async () => {
    const home = await fs.mkdtemp(path.join(os.tmpdir(), 'sparkify-status-'));
    try {
      const result = await sparkify(['provision', '--status', '--region', 'us-west-2'], { ...env, SPARKIFY_HOME: home, HOME: home });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/^IAM role sparkify-redshift-s3-read: unknown \(CredentialsProviderError/);
      expect(result.stdout).toContain('Config: absent');
      expect(result.stderr).not.toContain('--s3');
    } finally {
      await fs.rm(home, { recursive: true, force: true });
    }
  });

  it('refuses a bucket name too short, with the reason', async () => {
    const error = await parseError(['provision', '--region', 'us-west-2', '--s3', 's3://b/p/', '--dry-run']);
    expect(error?.message).toBe('Invalid options: --s3: the bucket name must be 3 to 63 characters long (it has 1)');
    const long = await parseError(['provision', '--region', 'us-west-2', '--s3', `s3://${'b'.repeat(64)}/p/`, '--dry-run']);
    expect(long?.message).toMatch(/--s3: the bucket name must be 3 to 63 characters long \(it has 64\)/);
  });

  it('names options as typed in validation messages', async () => {
    const error = await parseError(['provision', '--region', 'us-west-2', '--s3', 's3://my-bucket/x/', '--public-from', '0.0.0.0/0', '--dry-run']);
    expect(error?.message).toBe('Invalid options: --public-from: must be one IPv4 address (opened as /32)');
  });

  it.each(['provision', 'teardown'])('%s --help names the command once in its header', async (command) => {
    const result = await sparkify([command, '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout.split('\n')[0]).toBe(`sparkify ${command}`);
  });
});
