import { createReadStream } from 'node:fs';
import { HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { s3Uri } from '../db/redshift/values.js';
import { type DataFile, hashFile } from './files.js';

/** Bucket and key of an s3:// URI. */
export function parseS3Uri(uri: string): { bucket: string; key: string } {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(s3Uri(uri));
  return { bucket: match![1]!, key: match![2]! };
}

/** Joins an s3:// prefix and a relative key. */
export function s3Join(prefix: string, ...parts: string[]): string {
  return [prefix.replace(/\/+$/, ''), ...parts.map((p) => p.replace(/^\/+|\/+$/g, ''))].join('/');
}

/** An uploaded (or already present) file and where it is. */
export interface StagedObject {
  file: DataFile;
  uri: string;
  uploaded: boolean;
}

/**
 * Uploads local files under `prefix`, each at its path relative to its source directory; a file
 * already there with the same size and SHA-256 (kept in the object's metadata) is not sent again.
 */
export async function uploadFiles(s3: S3Client, prefix: string, files: DataFile[]): Promise<StagedObject[]> {
  const out: StagedObject[] = [];
  for (const file of files) {
    file.hash ??= await hashFile(file.path);
    const uri = s3Join(prefix, file.relPath);
    const { bucket, key } = parseS3Uri(uri);
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })).catch((error: { name?: string }) => {
      if (error.name === 'NotFound' || error.name === 'NoSuchKey') return undefined;
      throw error;
    });
    const same = head?.ContentLength === file.size && head?.Metadata?.sha256 === file.hash;
    if (!same) {
      await s3.send(
        new PutObjectCommand({ Bucket: bucket, Key: key, Body: createReadStream(file.path), ContentLength: file.size, Metadata: { sha256: file.hash } }),
      );
    }
    out.push({ file, uri, uploaded: !same });
  }
  return out;
}

/** Writes a small text object (a manifest, a JSONPaths file). */
export async function putText(s3: S3Client, uri: string, text: string): Promise<void> {
  const { bucket, key } = parseS3Uri(uri);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: text, ContentType: 'application/json' }));
}

/** A COPY manifest listing exactly these objects (https://docs.aws.amazon.com/redshift/latest/dg/loading-data-files-using-manifest.html). */
export function copyManifest(uris: string[]): string {
  return `${JSON.stringify({ entries: uris.map((url) => ({ url, mandatory: true })) }, null, 2)}\n`;
}
