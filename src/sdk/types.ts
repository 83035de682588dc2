// The SDK's own public types: its options, its inputs, and the error it throws. Response shapes are the
// generated operation types (generated.ts), never restated here.
import type { ClassifyQuery, RunFieldsFragment, SortOrder } from './generated.js';

/** An error the server answered, with its stable code (BAD_USER_INPUT, NOT_FOUND, OVERLOADED, ...). */
export class FashionHowError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'FashionHowError';
  }
}

export interface ClientOptions {
  /** GraphQL endpoint; default FASHION_HOW_ENDPOINT, else http://127.0.0.1:4000/graphql. */
  endpoint?: string;
  /** API token; default FASHION_HOW_TOKEN. */
  token?: string;
  /** GraphQL over WebSocket (graphql-ws) for live updates; default: the endpoint with ws:// or wss://.
   *  false: never open a WebSocket (waitForRun polls). */
  webSocketEndpoint?: string | false;
  /** Retries of a retryable failure (OVERLOADED, RATE_LIMITED, a refused connection, a query cut off),
   *  with exponential backoff from `backoffMs` (or the server's Retry-After). */
  retries?: number;
  backoffMs?: number;
  /** Longest wait for one answer (default 10 minutes: evaluate and fitEnsemble score whole splits). */
  timeoutMs?: number;
  /** How classify sends images: as multipart file parts (default; no base64) or as base64 in JSON
   *  (for a proxy that refuses multipart requests). */
  imageEncoding?: 'multipart' | 'base64';
}

export interface ImageInput {
  /** A file path, or the encoded bytes. */
  image: string | Uint8Array;
  bbox: { xmin: number; ymin: number; xmax: number; ymax: number };
}

export interface ClassifyOptions {
  /** A model's name, as /v2 takes it: an alias (champion, challenger, ...), an ensemble's name, ensemble-<id> or
   *  artifact-<id>; absent with no ensembleId or artifactId: champion. */
  model?: string;
  ensembleId?: string;
  artifactId?: string;
  /** Also return each member's distribution. */
  members?: boolean;
}

export type Classification = ClassifyQuery['classify']['results'][number];

export interface PageOptions {
  /** Rows per request, 1 to 100 (the server's MAX_PAGE_SIZE; default 20). */
  pageSize?: number;
  /** Oldest or newest first (each list's own default otherwise). */
  order?: SortOrder;
}

export interface WaitOptions {
  /** Sees every state the run passes through (each pushed update, or each poll). */
  onProgress?: (run: RunFieldsFragment) => void;
  /** Poll interval when the WebSocket cannot be used (default 1000 ms). */
  pollMs?: number;
  /** Gives up with TIMEOUT after this long (default 24 h). */
  timeoutMs?: number;
}
