// Objects in S3-compatible storage: the artifact store's S3Store, and reading the files of a dataset
// import from a bucket. The one importer of the AWS SDK.
import { createReadStream, createWriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { S3Client } from '@aws-sdk/client-s3';
import type { S3Connection, S3StoreSettings } from '../config.js';
import {
  ArtifactMissingError,
  ArtifactStoreError,
  ContentStore,
  checkKey,
  errnoOf,
  hashing,
  type ObjectKind,
  type StoredObject,
  writeHashed,
} from './contentStore.js';

/** An S3 failure in words a client may see: the server's own words (e.g. "The specified bucket does not
 *  exist") when it answered, else only the error's name, since a network error's message names the
 *  endpoint's address. */
function describeS3Error(error: unknown): { name: string; said: string } {
  const name = (error as Error)?.name && (error as Error).name !== 'Error' ? (error as Error).name : (errnoOf(error) ?? 'error');
  const answered = (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode !== undefined;
  return { name, said: answered ? `${name}: ${(error as Error).message}` : name };
}

type Sdk = typeof import('@aws-sdk/client-s3');

/** A connection's client, made at its first use with the SDK loaded then: the SDK is about 0.2 s of the
 *  start of every process (each CLI command), and most never touch a bucket. */
class LazyClient {
  private made?: Promise<{ client: S3Client; commands: Sdk }>;

  constructor(private readonly connection: S3Connection) {}

  get(): Promise<{ client: S3Client; commands: Sdk }> {
    // Node's module cache loads the SDK once however many clients ask.
    this.made ??= import('@aws-sdk/client-s3').then((commands) => ({ client: newClient(commands, this.connection), commands }));
    return this.made;
  }

  destroy(): void {
    void this.made?.then(
      ({ client }) => client.destroy(),
      () => undefined,
    );
  }
}

function newClient({ S3Client }: Sdk, connection: S3Connection): S3Client {
  return new S3Client({
    region: connection.region,
    endpoint: connection.endpoint,
    // Custom endpoints (MinIO, Ceph, s3rver, ...) rarely resolve bucket.host names: put the bucket in the path.
    forcePathStyle: connection.endpoint !== undefined,
    // Undefined credentials leave the SDK its own chain (shared config files, instance or container roles).
    credentials: connection.credentials,
    // The SDK otherwise adds CRC32 checksums with aws-chunked uploads, which several S3-compatible
    // servers refuse; integrity is the sha256 this store checks (on every fetch) or the import hashes.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** Objects in an S3-compatible bucket (`<prefix>/<kind>/<sha256>`), streamed in and out, never buffered. */
export class S3Store extends ContentStore {
  private readonly s3: LazyClient;
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(settings: S3StoreSettings, cacheDir: string) {
    super(cacheDir);
    this.bucket = settings.bucket;
    this.prefix = settings.prefix;
    this.s3 = new LazyClient(settings);
  }

  get location(): string {
    return `s3://${this.bucket}${this.prefix ? `/${this.prefix}` : ''}`;
  }

  private key(sha256: string, kind: ObjectKind): string {
    checkKey(sha256, kind);
    return this.prefix ? `${this.prefix}/${kind}/${sha256}` : `${kind}/${sha256}`;
  }

  locationOf(sha256: string, kind: ObjectKind): string {
    return `s3://${this.bucket}/${this.key(sha256, kind)}`;
  }

  private failed(action: string, sha256: string, kind: ObjectKind, error: unknown): ArtifactStoreError {
    const { name, said } = describeS3Error(error);
    return new ArtifactStoreError(`the artifact store ${this.location} could not ${action} ${kind} object ${sha256} (${said})`, name);
  }

  protected async sizeOf(sha256: string, kind: ObjectKind): Promise<number | null> {
    try {
      const { client, commands } = await this.s3.get();
      const head = await client.send(new commands.HeadObjectCommand({ Bucket: this.bucket, Key: this.key(sha256, kind) }));
      return head.ContentLength ?? 0;
    } catch (error) {
      if (isNotFound(error)) return null;
      throw this.failed('look up', sha256, kind, error);
    }
  }

  protected async upload(localFile: string, expected: StoredObject, kind: ObjectKind): Promise<void> {
    const Key = this.key(expected.sha256, kind);
    const file = createReadStream(localFile);
    const { stream, digest } = hashing();
    file.on('error', (error) => stream.destroy(error));
    try {
      // A single PUT (up to 5 GiB: any graph or checkpoint of the supported backbones) with its length
      // known up front, so the body streams from disk; S3 makes the object visible only once complete.
      const { client, commands } = await this.s3.get();
      await client.send(
        new commands.PutObjectCommand({
          Bucket: this.bucket,
          Key,
          Body: file.pipe(stream),
          ContentLength: expected.bytes,
          ContentType: 'application/octet-stream',
        }),
      );
    } catch (error) {
      throw this.failed('write', expected.sha256, kind, error);
    } finally {
      file.destroy();
    }
    const sent = digest();
    if (sent.sha256 !== expected.sha256) {
      const { client, commands } = await this.s3.get();
      await client.send(new commands.DeleteObjectCommand({ Bucket: this.bucket, Key })).catch(() => undefined);
      throw new ArtifactStoreError(
        `the file changed while it was uploaded (sha256 ${sent.sha256}, first read as ${expected.sha256}); nothing was stored`,
        'changed while stored',
      );
    }
  }

  protected async deleteObject(sha256: string, kind: ObjectKind): Promise<void> {
    try {
      const { client, commands } = await this.s3.get();
      await client.send(new commands.DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(sha256, kind) }));
    } catch (error) {
      throw this.failed('delete', sha256, kind, error);
    }
  }

  protected async download(sha256: string, kind: ObjectKind, into: string): Promise<string> {
    let body: Readable;
    try {
      const { client, commands } = await this.s3.get();
      const object = await client.send(new commands.GetObjectCommand({ Bucket: this.bucket, Key: this.key(sha256, kind) }));
      body = object.Body as Readable; // in Node the SDK's body is an http.IncomingMessage
    } catch (error) {
      if (isNotFound(error)) throw new ArtifactMissingError(kind, sha256);
      throw this.failed('read', sha256, kind, error);
    }
    try {
      return (await writeHashed(body, into)).sha256;
    } catch (error) {
      throw this.failed('read', sha256, kind, error);
    }
  }

  protected override release(): void {
    this.s3.destroy();
  }
}

function isNotFound(error: unknown): boolean {
  const { name, $metadata } = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  // HEAD answers a bare 404 ("NotFound"); GET says NoSuchKey. A missing bucket is a setup error, not a missing object.
  return name !== 'NoSuchBucket' && (name === 'NoSuchKey' || name === 'NotFound' || $metadata?.httpStatusCode === 404);
}

/** A bucket read by an import: listing a prefix and downloading objects, each within a byte limit.
 *  Errors say what failed in the service's own words (or the error's name), never the endpoint. */
export class BucketReader {
  private readonly s3: LazyClient;

  constructor(
    connection: S3Connection,
    readonly bucket: string,
  ) {
    this.s3 = new LazyClient(connection);
  }

  private failed(action: string, error: unknown): Error {
    return new Error(`s3://${this.bucket} could not ${action} (${describeS3Error(error).said})`);
  }

  /** Every object under `prefix` (key and size), refusing once there are more than `maxObjects`. */
  async list(prefix: string, maxObjects: number): Promise<{ key: string; size: number }[] | 'too many'> {
    const found: { key: string; size: number }[] = [];
    let token: string | undefined;
    const { client, commands } = await this.s3.get();
    do {
      const page = await client
        .send(new commands.ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token, MaxKeys: 1000 }))
        .catch((error: unknown) => {
          throw this.failed(`list ${prefix || 'its objects'}`, error);
        });
      for (const object of page.Contents ?? []) found.push({ key: object.Key ?? '', size: object.Size ?? 0 });
      if (found.length > maxObjects) return 'too many';
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return found;
  }

  /** Writes one object to the new file `file`; false (and the file removed by the caller) past `maxBytes`. */
  async download(key: string, file: string, maxBytes: number): Promise<boolean> {
    const { client, commands } = await this.s3.get();
    const object = await client.send(new commands.GetObjectCommand({ Bucket: this.bucket, Key: key })).catch((error: unknown) => {
      if (isNotFound(error)) throw new Error(`s3://${this.bucket}/${key} does not exist`);
      throw this.failed(`read ${key}`, error);
    });
    if ((object.ContentLength ?? 0) > maxBytes) {
      (object.Body as Readable).destroy();
      return false;
    }
    let bytes = 0;
    let over = false;
    const body = object.Body as Readable;
    await pipeline(
      body,
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          bytes += chunk.length;
          if (bytes > maxBytes) {
            over = true;
            return;
          }
          yield chunk;
        }
      },
      createWriteStream(file, { flags: 'wx' }),
    ).catch((error: unknown) => {
      throw this.failed(`read ${key}`, error);
    });
    return !over;
  }

  close() {
    this.s3.destroy();
  }
}
