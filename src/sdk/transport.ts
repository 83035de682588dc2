// One GraphQL operation over HTTP, with the retries a client of a busy or restarting server needs.
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { loadClientConfig } from '../config.js';
import { type ClientOptions, FashionHowError } from './types.js';
import { encodeRequest } from './wire.js';

/** The system error code under fetch's "fetch failed" (undici puts it on the cause). */
function connectionErrorCode(error: unknown): string | undefined {
  const cause = (error as { cause?: { code?: string } }).cause;
  return cause?.code;
}

/** Connection failures part-way through a request, as Node and undici name them. */
const CUT_OFF = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class Transport {
  readonly endpoint: string;
  protected readonly token?: string;
  private readonly retries: number;
  private readonly backoffMs: number;
  private readonly timeoutMs: number;

  constructor(options: ClientOptions = {}) {
    const fromEnv = loadClientConfig();
    this.endpoint = options.endpoint ?? fromEnv.endpoint;
    this.token = options.token ?? fromEnv.token;
    this.retries = options.retries ?? 5;
    this.backoffMs = options.backoffMs ?? 100;
    this.timeoutMs = options.timeoutMs ?? 10 * 60 * 1000;
  }

  /** Sends one operation; OVERLOADED and RATE_LIMITED are retried with backoff, every other error is
   *  thrown at once. Variables holding Blobs (files) go as a multipart request (the GraphQL multipart
   *  request spec), everything else as JSON. */
  async request<Result, Variables extends Record<string, unknown>>(document: TypedDocumentNode<Result, Variables>, variables?: Variables): Promise<Result> {
    const { body, headers } = encodeRequest(print(document), variables);
    const mutation = document.definitions.some((d) => d.kind === 'OperationDefinition' && d.operation === 'mutation');
    for (let attempt = 0; ; attempt++) {
      const backoff = () => sleep(this.backoffMs * 2 ** attempt * (0.5 + Math.random()));
      let response: Response;
      try {
        response = await fetch(this.endpoint, {
          method: 'POST',
          headers: { ...headers, ...(this.token ? { authorization: `Bearer ${this.token}` } : {}) },
          body,
          signal: AbortSignal.timeout(this.timeoutMs),
        });
      } catch (error) {
        const code = connectionErrorCode(error);
        if ((error as Error).name === 'TimeoutError') throw new FashionHowError('TIMEOUT', `no answer from ${this.endpoint} within ${this.timeoutMs} ms`);
        // Refused: the request never reached a server (e.g. one restarting), so any operation may be sent
        // again. Cut off mid-way (reset, a broken pipe while the body was still going out, a socket closed
        // under the request): only a query is safe to repeat, a mutation may have happened.
        const retryable = code === 'ECONNREFUSED' || (!mutation && code !== undefined && CUT_OFF.has(code));
        if (retryable && attempt < this.retries) {
          await backoff();
          continue;
        }
        throw new FashionHowError('UNREACHABLE', `cannot reach ${this.endpoint}: ${code ?? (error as Error).message}`);
      }
      let payload: { data?: Result | null; errors?: { message: string; extensions?: Record<string, unknown> }[] };
      try {
        payload = (await response.json()) as typeof payload;
      } catch {
        throw new FashionHowError('BAD_RESPONSE', `the server answered HTTP ${response.status} without a GraphQL body`);
      }
      const error = payload.errors?.[0];
      if (!error) return payload.data as Result;
      const code = String(error.extensions?.code ?? 'INTERNAL_SERVER_ERROR');
      if ((code === 'OVERLOADED' || code === 'RATE_LIMITED') && attempt < this.retries) {
        // The server's Retry-After when it sends one, else exponential backoff with jitter.
        const retryAfter = Number(response.headers.get('retry-after'));
        await (retryAfter > 0 ? sleep(retryAfter * 1000 * (1 + Math.random() / 4)) : backoff());
        continue;
      }
      throw new FashionHowError(code, error.message, error.extensions);
    }
  }
}
