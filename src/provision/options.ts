import { z } from 'zod';
import { UsageError } from '../cli/options.js';
import { region, s3Uri } from '../db/redshift/values.js';

const ok = (validate: (v: string) => unknown) => (v: string) => {
  try {
    validate(v);
    return true;
  } catch {
    return false;
  }
};

/** The length of the bucket name in an s3:// path (S3 allows 3 to 63 characters). */
const bucketLength = (uri: string) => (/^s3:\/\/([^/]*)/.exec(uri)?.[1] ?? '').length;

/** Provisioning options, with the defaults the README documents. */
const baseOptions = z.object({
    region: z.string().refine(ok(region), 'must be a region like us-west-2'),
    identifier: z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, 'must be lowercase letters, digits and hyphens, starting with a letter').default('sparkify-dwh'),
    nodeType: z.string().regex(/^[a-z0-9]+\.[a-z0-9]+$/, 'must be a node type like ra3.large').default('ra3.large'),
    nodes: z.number().int().min(1).max(128).default(2),
    database: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lowercase database name').default('sparkify'),
    user: z.string().regex(/^[a-z_][a-z0-9_]{0,126}$/, 'must be a lowercase user name').default('sparkify_admin'),
    port: z.number().int().min(1150).max(65535).default(5439),
    roleName: z.string().regex(/^[\w+=,.@-]{1,64}$/, 'must be an IAM role name').default('sparkify-redshift-s3-read'),
    /** The bucket (and prefix) COPY reads; the role may read only it unless managedS3ReadOnly. */
    s3: z
      .string()
      .superRefine((v, ctx) => {
        // The most specific reason only: a short bucket name also fails the general pattern.
        const n = bucketLength(v);
        if (v.startsWith('s3://') && (n < 3 || n > 63)) ctx.addIssue({ code: 'custom', message: `the bucket name must be 3 to 63 characters long (it has ${n})` });
        else if (!ok(s3Uri)(v)) ctx.addIssue({ code: 'custom', message: 'must be an s3:// path like s3://bucket/prefix/' });
      })
      .optional(),
    /** Source prefixes COPY reads besides the staging prefix (e.g. s3://udacity-dend/log_data/). */
    sources: z.array(z.string().refine(ok(s3Uri), 'must be an s3:// prefix like s3://bucket/prefix/')).default([]),
    managedS3ReadOnly: z.boolean().default(false),
    /** Publicly accessible, with the port open to this one IPv4 address only. */
    publicFrom: z
      .string()
      .regex(/^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/, 'must be one IPv4 address (opened as /32)')
      .optional(),
    /** Let Redshift keep the admin password in Secrets Manager instead of the local config file. */
    managedPassword: z.boolean().default(false),
    /** How the ETL logs in: short-lived IAM credentials (default), or the admin's stored password. */
    auth: z.enum(['iam', 'password'], { message: 'must be iam or password' }).default('iam'),
    /** How long to wait for the cluster, in seconds. */
    waitSeconds: z.number().int().min(1).default(1800),
    /** Redshift Serverless (a namespace and a workgroup) instead of a provisioned cluster. */
    serverless: z.boolean().default(false),
    /** Serverless base capacity in Redshift Processing Units: 8 to 1024, in steps of 8. */
    baseCapacity: z.number().int().min(8).max(1024).multipleOf(8).default(8),
  });

const provisionOptions = baseOptions.refine((o) => o.s3 || o.managedS3ReadOnly, {
  message: 'give --s3 s3://bucket/prefix (least privilege) or --managed-s3-read-only',
  path: ['s3'],
});

export type ProvisionOptions = z.output<typeof baseOptions>;

/** Validates provisioning options, naming each bad one. */
export function parseProvisionOptions(input: Record<string, unknown>): ProvisionOptions {
  return parse(provisionOptions, input);
}

/** Validates teardown options: those that name what to delete (S3 access is not needed to delete it). */
export function parseTeardownOptions(input: Record<string, unknown>): ProvisionOptions {
  return parse(baseOptions, input);
}

function parse(schema: typeof baseOptions | typeof provisionOptions, input: Record<string, unknown>): ProvisionOptions {
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    // Name each option as typed on the command line: --public-from, not publicFrom.
    const flag = (key: PropertyKey | undefined) => `--${String(key ?? '').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    throw new UsageError(`Invalid options: ${parsed.error.issues.map((i) => `${flag(i.path[0])}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
}

