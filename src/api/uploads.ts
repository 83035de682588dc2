// The one module that speaks the GraphQL multipart request spec (graphql-upload-minimal): files sent as
// parts of a multipart/form-data request reach resolvers as Upload values, read here straight from the
// request stream with a byte limit per kind of file. (graphql-upload proper first copies every part to
// a temporary file: its open/write/read/unlink and random names cost about a fifth of the server's CPU
// per classified image in a profile.) Binary parts skip base64 (a third smaller) and the JSON parser. Apollo's CSRF
// prevention still applies: a multipart request must carry `Apollo-Require-Preflight` (or
// `X-Apollo-Operation-Name`), which a browser form on another site cannot add.
import { createHash } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { Request, RequestHandler, Response } from 'express';
import { type FileUpload, GraphQLUpload, graphqlUploadExpress } from 'graphql-upload-minimal';
import { AppError, badInput } from '../errors.js';

export { GraphQLUpload };
export type Upload = Promise<FileUpload>;

export interface UploadLimits {
  /** Largest single file of any kind (the kinds' own limits are checked while reading). */
  maxFileBytes: number;
  /** Files in one request. */
  maxFiles: number;
}

/** Express middleware that turns a multipart request into GraphQL's { query, variables } body. */
export function uploadMiddleware(limits: UploadLimits): RequestHandler {
  // One byte over the largest limit, so the kind's own limit (checked while reading) is the one that speaks.
  const parse = graphqlUploadExpress({ maxFileSize: limits.maxFileBytes + 1, maxFiles: limits.maxFiles, maxFieldSize: 1_000_000 });
  return (req, res, next) => {
    if (req.is('multipart/form-data')) answerAfterTheBody(req, res);
    parse(req, res, next);
  };
}

/** A request refused before its file parts are read (a limit, a bad argument, RATE_LIMITED) still has
 *  them in flight, and the parser waits for someone to read them: the answer would sit behind a body
 *  nobody reads until a timeout, and the connection with it. So the answer goes once the rest of the
 *  body has been read and thrown away. */
function answerAfterTheBody(req: Request, res: Response) {
  const end = res.end.bind(res) as (...args: unknown[]) => Response;
  res.end = ((...args: unknown[]) => {
    if (req.complete || req.destroyed) return end(...args);
    req.unpipe();
    req.once('end', () => end(...args));
    req.once('error', () => end(...args));
    req.resume();
    return res;
  }) as Response['end'];
}

/** The limit a stream crossed, for error messages; the parser truncates files above maxFileBytes. */
class TooLarge extends Error {}

/** Reads a stream to its end, handing each chunk to `onChunk` until `maxBytes` is crossed. Past the limit
 *  it keeps reading (and drops the rest): a part left half read would stall the request's later parts
 *  and its connection, since the parser waits for it. */
async function consume(stream: Readable, maxBytes: number, onChunk: (chunk: Buffer) => unknown): Promise<void> {
  let bytes = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes <= maxBytes) await onChunk(chunk);
  }
  // The parser ends a file it cut at its own limit as if it were complete, marking it truncated.
  if (bytes > maxBytes || (stream as { truncated?: boolean }).truncated) throw new TooLarge();
}

function uploadError(error: unknown, what: string, maxBytes: number, limitName: string): AppError {
  if (error instanceof AppError) return error;
  // graphql-upload-minimal fails a file past its own maxFileSize with HTTP 413; ours is never larger.
  const status = (error as { status?: number }).status;
  if (error instanceof TooLarge || status === 413) return badInput(`${what} is over the limit of ${maxBytes} bytes (${limitName})`);
  return badInput(`${what} could not be received (the upload was cut off or malformed)`);
}

/** Bytes of uploaded files held in memory: at most `perRequest` by one request, and `perClient` by one
 *  client's requests in flight together (a multipart classify holds its images until it is answered). */
export class BufferedUploads {
  private readonly byClient = new Map<string, number>();

  constructor(
    private readonly perRequest: number,
    private readonly perClient: number,
  ) {}

  /** One request's account; `close` gives its bytes back (when the request ends). */
  open(client: string): UploadAccount {
    let held = 0;
    return {
      take: (bytes) => {
        const clientHeld = this.byClient.get(client) ?? 0;
        if (held + bytes > this.perRequest)
          return `this request's uploaded files are over the limit of ${this.perRequest} bytes in all (FASHION_HOW_MAX_BODY_BYTES)`;
        if (clientHeld + bytes > this.perClient)
          return `this client's requests in flight hold ${clientHeld} bytes of uploaded files, the limit is ${this.perClient} (FASHION_HOW_MAX_CLIENT_UPLOAD_BYTES); retry when they are answered`;
        held += bytes;
        this.byClient.set(client, clientHeld + bytes);
        return undefined;
      },
      close: () => {
        const left = (this.byClient.get(client) ?? 0) - held;
        held = 0;
        if (left > 0) this.byClient.set(client, left);
        else this.byClient.delete(client);
      },
    };
  }
}

export interface UploadAccount {
  /** Counts `bytes` more held in memory, or says which limit they would cross (and counts nothing). */
  take(bytes: number): string | undefined;
  close(): void;
}

/** A whole uploaded file in memory (images, model.json), at most `maxBytes`, and within `account`'s bytes. */
export async function readUpload(upload: Upload, what: string, maxBytes: number, limitName: string, account?: UploadAccount): Promise<Buffer> {
  let refused: string | undefined;
  try {
    const chunks: Buffer[] = [];
    await consume((await upload).createReadStream(), maxBytes, (chunk) => {
      refused ??= account?.take(chunk.length);
      // Past the account's limit the rest is read and dropped, as past the file's own (see consume).
      if (!refused) chunks.push(chunk);
    });
    if (refused) throw badInput(`${what}: ${refused}`);
    return Buffer.concat(chunks);
  } catch (error) {
    throw uploadError(error, what, maxBytes, limitName);
  }
}

/** Streams a received file (an upload, or a file the CLI reads) to `file` (at most `maxBytes`), hashing
 *  it on the way; nothing is left behind when it fails. */
export async function saveStream(
  source: () => Promise<Readable>,
  file: string,
  what: string,
  maxBytes: number,
  limitName: string,
): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  try {
    const stream = await source();
    const handle = await open(file, 'wx');
    try {
      await consume(stream, maxBytes, async (chunk) => {
        hash.update(chunk);
        bytes += chunk.length;
        await handle.write(chunk);
      });
    } finally {
      await handle.close();
    }
    return { sha256: hash.digest('hex'), bytes };
  } catch (error) {
    await rm(file, { force: true });
    throw uploadError(error, what, maxBytes, limitName);
  }
}

export const saveUpload = (upload: Upload, file: string, what: string, maxBytes: number, limitName: string) =>
  saveStream(async () => (await upload).createReadStream(), file, what, maxBytes, limitName);
