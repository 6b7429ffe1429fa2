export { parseS3Uri } from '../../db/redshift/values.js';

/** Joins an s3:// prefix and a relative key. */
export function s3Join(prefix: string, ...parts: string[]): string {
  return [prefix.replace(/\/+$/, ''), ...parts.map((p) => p.replace(/^\/+|\/+$/g, ''))].join('/');
}

/** A COPY manifest listing exactly these objects (https://docs.aws.amazon.com/redshift/latest/dg/loading-data-files-using-manifest.html). */
export function copyManifest(uris: string[]): string {
  return `${JSON.stringify({ entries: uris.map((url) => ({ url, mandatory: true })) }, null, 2)}\n`;
}
