/**
 * Values that Redshift takes only as SQL text (COPY's source, IAM role, region): each is checked
 * against its documented format before it is quoted, so no value can carry SQL of its own.
 */

/** A value outside its format. */
export class InvalidValueError extends Error {
  override name = 'InvalidValueError';
}

// https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html ; keys: no quotes, backslashes or control characters.
const S3_URI = /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/[^'"\\\u0000-\u001f]*)?$/;
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-arns
const IAM_ROLE_ARN = /^arn:aws(-[a-z]+)*:iam::\d{12}:role\/[\w+=,.@\/-]{1,512}$/;
// https://docs.aws.amazon.com/general/latest/gr/rande.html (e.g. us-west-2, eu-central-1, us-gov-west-1)
const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;

function check(value: string, format: RegExp, what: string, example: string): string {
  if (!format.test(value)) throw new InvalidValueError(`${what} ${JSON.stringify(value)} is not valid: expected something like ${example}`);
  return value;
}

/** An s3:// URI of a bucket or object prefix. */
export function s3Uri(value: string, what = 'S3 path'): string {
  return check(value, S3_URI, what, 's3://my-bucket/path/');
}

/** An IAM role ARN. */
export function iamRoleArn(value: string, what = 'IAM role'): string {
  return check(value, IAM_ROLE_ARN, what, 'arn:aws:iam::123456789012:role/sparkify-redshift');
}

/** An AWS region name. */
export function region(value: string, what = 'Region'): string {
  return check(value, REGION, what, 'us-west-2');
}

/** A validated value as an SQL string literal (quotes doubled for good measure). */
export function literal(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** Bucket and key of a valid s3:// URI. */
export function parseS3Uri(uri: string): { bucket: string; key: string } {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(s3Uri(uri));
  return { bucket: match![1]!, key: match![2]! };
}
