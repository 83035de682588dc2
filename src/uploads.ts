// The one module that speaks the GraphQL multipart request spec (graphql-upload-minimal): files sent as
// parts of a multipart/form-data request reach resolvers as Upload values, read here straight from the
// request stream with a byte limit per kind of file. (graphql-upload proper first copies every part to
// a temporary file: its open/write/read/unlink and random names cost about a fifth of the server's CPU
// per classified image in a profile.) Binary parts skip base64 (a third smaller) and the JSON parser. Apollo's CSRF
// prevention still applies: a multipart request must carry `Apollo-Require-Preflight` (or
// `X-Apollo-Operation-Name`), which a browser form on another site cannot add.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type FileUpload, GraphQLUpload, graphqlUploadExpress } from 'graphql-upload-minimal';
import { AppError, badInput } from './errors.js';

export { GraphQLUpload };
export type Upload = Promise<FileUpload>;

export interface UploadLimits {
  /** Largest single file of any kind (the kinds' own limits are checked while reading). */
  maxFileBytes: number;
  /** Files in one request. */
  maxFiles: number;
}

/** Express middleware that turns a multipart request into GraphQL's { query, variables } body. */
// One byte over the largest limit, so the kind's own limit (checked while reading) is the one that speaks.
export const uploadMiddleware = (limits: UploadLimits) => graphqlUploadExpress({ maxFileSize: limits.maxFileBytes + 1, maxFiles: limits.maxFiles, maxFieldSize: 1_000_000 });

/** The limit a stream crossed, for error messages; graphql-upload truncates files above maxFileBytes. */
class TooLarge extends Error {}

/** Counts a stream's bytes and fails it past `maxBytes`. */
async function* limited(stream: Readable, maxBytes: number, onChunk?: (chunk: Buffer) => void): AsyncGenerator<Buffer> {
  let bytes = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes > maxBytes) throw new TooLarge();
    onChunk?.(chunk);
    yield chunk;
  }
  // The multipart parser ends a file it cut at its own limit as if it were complete, marking it truncated.
  if ((stream as { truncated?: boolean }).truncated) throw new TooLarge();
}

function uploadError(error: unknown, what: string, maxBytes: number, limitName: string): AppError {
  if (error instanceof AppError) return error;
  // graphql-upload-minimal fails a file past its own maxFileSize with HTTP 413; ours is never larger.
  const status = (error as { status?: number }).status;
  if (error instanceof TooLarge || status === 413) return badInput(`${what} is over the limit of ${maxBytes} bytes (${limitName})`);
  return badInput(`${what} could not be received (the upload was cut off or malformed)`);
}

/** A whole uploaded file in memory (images, model.json), at most `maxBytes`. */
export async function readUpload(upload: Upload, what: string, maxBytes: number, limitName: string): Promise<Buffer> {
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of limited((await upload).createReadStream(), maxBytes)) chunks.push(chunk);
    return Buffer.concat(chunks);
  } catch (error) {
    throw uploadError(error, what, maxBytes, limitName);
  }
}

/** Streams a received file (an upload, or a file the CLI reads) to `file` (at most `maxBytes`), hashing
 *  it on the way; nothing is left behind when it fails. */
export async function saveStream(source: () => Promise<Readable>, file: string, what: string, maxBytes: number, limitName: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  try {
    await pipeline(
      limited(await source(), maxBytes, (chunk) => {
        hash.update(chunk);
        bytes += chunk.length;
      }),
      createWriteStream(file, { flags: 'wx' }),
    );
    return { sha256: hash.digest('hex'), bytes };
  } catch (error) {
    await rm(file, { force: true });
    throw uploadError(error, what, maxBytes, limitName);
  }
}

export const saveUpload = (upload: Upload, file: string, what: string, maxBytes: number, limitName: string) =>
  saveStream(async () => (await upload).createReadStream(), file, what, maxBytes, limitName);
