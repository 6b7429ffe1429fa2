import { existsSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { parseS3Uri } from '../redshift/values.js';

/** An object's size and the source hash we keep in its metadata. */
export interface ObjectHead {
  size: number;
  metadata: Record<string, string>;
}


/**
 * The local stand-in for Amazon S3: `s3://bucket/key` is the file `<root>/bucket/key`. Object
 * metadata lives beside the buckets in `<root>/.metadata/` (a bucket name cannot start with a dot),
 * and a bucket's region, for COPY's REGION check, in `<root>/.regions.json` ({"bucket": "region"};
 * a bucket not listed is in the emulated cluster's region).
 */
export class LocalS3 {
  constructor(readonly root: string) {}

  /** The file behind an s3:// URI. */
  file(uri: string): string {
    const { bucket, key } = parseS3Uri(uri);
    const bucketDir = path.resolve(this.root, bucket);
    const file = path.resolve(bucketDir, key);
    if (file !== bucketDir && !file.startsWith(bucketDir + path.sep)) throw new Error(`S3 key escapes its bucket: ${uri}`);
    return file;
  }

  /** The object's bytes; a missing key fails as S3's NoSuchKey does. */
  async get(uri: string): Promise<Buffer> {
    try {
      return await fs.readFile(this.file(uri));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'EISDIR') {
        throw Object.assign(new Error(`S3ServiceException:The specified key does not exist.,Status 404 (${uri})`), { name: 'NoSuchKey' });
      }
      throw error;
    }
  }

  /** Size and metadata, or undefined when there is no such object. */
  async head(uri: string): Promise<ObjectHead | undefined> {
    const stat = await fs.stat(this.file(uri)).catch(() => undefined);
    if (!stat?.isFile()) return undefined;
    const meta = await fs.readFile(this.metadataFile(uri), 'utf8').then(JSON.parse, () => ({}));
    return { size: stat.size, metadata: meta };
  }

  /** Writes an object (and its metadata). */
  async put(uri: string, body: string | Buffer, metadata: Record<string, string> = {}): Promise<void> {
    const file = this.file(uri);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, body);
    const meta = this.metadataFile(uri);
    await fs.mkdir(path.dirname(meta), { recursive: true });
    await fs.writeFile(meta, JSON.stringify(metadata));
  }

  /** Every object whose key starts with the URI's key, as COPY's prefix matching reads them, in key order. */
  async list(prefixUri: string): Promise<string[]> {
    const { bucket, key } = parseS3Uri(prefixUri);
    const bucketDir = path.join(this.root, bucket);
    const keys: string[] = [];
    const walk = async (dir: string) => {
      const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
      for (const e of entries) {
        const full = path.join(dir, e.name);
        const rel = path.relative(bucketDir, full).split(path.sep).join('/');
        if (e.isDirectory()) {
          // Only descend where keys below can still start with the prefix.
          if (key.startsWith(`${rel}/`) || `${rel}/`.startsWith(key) || rel.startsWith(key)) await walk(full);
        } else if (rel.startsWith(key)) keys.push(rel);
      }
    };
    await walk(bucketDir);
    return keys.sort().map((k) => `s3://${bucket}/${k}`);
  }

  /** The bucket's region, if `.regions.json` names one. */
  bucketRegion(bucket: string): string | undefined {
    const file = path.join(this.root, '.regions.json');
    if (!existsSync(file)) return undefined;
    return (JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>)[bucket];
  }

  private metadataFile(uri: string): string {
    const { bucket, key } = parseS3Uri(uri);
    return path.join(this.root, '.metadata', bucket, `${key}.json`);
  }
}
