import { GetObjectCommand, HeadBucketCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { LocalS3 } from './emulator/local-s3.js';
import { parseS3Uri } from './redshift/values.js';

/** What the loads need of S3: Amazon's, or the emulation's local stand-in. */
export interface ObjectStore {
  /** Size and metadata of an object, or undefined when there is none. */
  head(uri: string): Promise<{ size: number; metadata: Record<string, string> } | undefined>;
  put(uri: string, body: string | Buffer, metadata?: Record<string, string>): Promise<void>;
  get(uri: string): Promise<Buffer>;
  /** The bucket's region, when it can be found out. */
  bucketRegion(bucket: string): Promise<string | undefined>;
}

/** Amazon S3 through the SDK. */
export function awsObjectStore(s3: S3Client): ObjectStore {
  return {
    async head(uri) {
      const { bucket, key } = parseS3Uri(uri);
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })).catch((error: { name?: string }) => {
        if (error.name === 'NotFound' || error.name === 'NoSuchKey') return undefined;
        throw error;
      });
      return head && { size: head.ContentLength ?? 0, metadata: head.Metadata ?? {} };
    },
    async put(uri, body, metadata) {
      const { bucket, key } = parseS3Uri(uri);
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, Metadata: metadata, ContentType: 'application/json' }));
    },
    async get(uri) {
      const { bucket, key } = parseS3Uri(uri);
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return Buffer.from(await object.Body!.transformToByteArray());
    },
    async bucketRegion(bucket) {
      // HeadBucket answers with the bucket's region (x-amz-bucket-region), whatever region the client is in.
      const head = await s3.send(new HeadBucketCommand({ Bucket: bucket })).catch(() => undefined);
      return head?.BucketRegion;
    },
  };
}

/** The Redshift emulation's local S3 stand-in. */
export function localObjectStore(s3: LocalS3): ObjectStore {
  return {
    head: (uri) => s3.head(uri),
    put: (uri, body, metadata) => s3.put(uri, body, metadata),
    get: (uri) => s3.get(uri),
    bucketRegion: async (bucket) => s3.bucketRegion(bucket),
  };
}

