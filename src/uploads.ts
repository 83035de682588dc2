// The one module that speaks the GraphQL multipart request spec (graphql-upload): files sent as parts
// of a multipart/form-data request reach resolvers as Upload values, read here with a byte limit per
// kind of file. Binary parts skip base64 (a third smaller) and the JSON parser. Apollo's CSRF
// prevention still applies: a multipart request must carry `Apollo-Require-Preflight` (or
// `X-Apollo-Operation-Name`), which a browser form on another site cannot add.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import GraphQLUpload from 'graphql-upload/GraphQLUpload.mjs';
import graphqlUploadExpress from 'graphql-upload/graphqlUploadExpress.mjs';
import type { FileUpload } from 'graphql-upload/processRequest.mjs';
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
export const uploadMiddleware = (limits: UploadLimits) => graphqlUploadExpress({ maxFileSize: limits.maxFileBytes, maxFiles: limits.maxFiles, maxFieldSize: 1_000_000 });

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
}

function uploadError(error: unknown, what: string, maxBytes: number, limitName: string): AppError {
  if (error instanceof AppError) return error;
  // graphql-upload fails a file past its own maxFileSize with HTTP 413; ours is never larger.
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
