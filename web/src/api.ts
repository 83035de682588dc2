// GraphQL over fetch (files as multipart parts, see src/sdk/wire.ts), and subscriptions over graphql-ws
// on the same path, with the API token kept in this browser session. Result types are generated.
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { createClient } from 'graphql-ws';
import { useCallback, useEffect, useRef, useState } from 'react';
import { encodeRequest } from '../../src/sdk/wire.js';

const TOKEN_KEY = 'fashion-how-token';
export const getToken = () => sessionStorage.getItem(TOKEN_KEY) ?? '';
export const setToken = (token: string) => (token ? sessionStorage.setItem(TOKEN_KEY, token) : sessionStorage.removeItem(TOKEN_KEY));

export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export async function request<R, V extends Record<string, unknown>>(document: TypedDocumentNode<R, V>, variables?: V): Promise<R> {
  const token = getToken();
  const { body: payload, headers } = encodeRequest(print(document), variables);
  const response = await fetch('/graphql', { method: 'POST', headers: { ...headers, ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: payload });
  const body = (await response.json()) as { data?: R; errors?: { message: string; extensions?: { code?: string } }[] };
  if (body.errors?.length) throw new ApiError(body.errors[0]!.extensions?.code ?? 'ERROR', body.errors[0]!.message);
  return body.data as R;
}

/** Loads a query, optionally polling; `reload` refetches after a mutation. */
export function useQuery<R, V extends Record<string, unknown>>(document: TypedDocumentNode<R, V>, variables?: V, pollMs?: number) {
  const [data, setData] = useState<R>();
  const [error, setError] = useState<ApiError>();
  const key = JSON.stringify(variables ?? {});
  // biome-ignore lint/correctness/useExhaustiveDependencies: variables count by value (key), not by identity
  const reload = useCallback(
    () =>
      request(document, variables).then(
        (result) => {
          setData(result);
          setError(undefined);
        },
        (e: ApiError) => setError(e),
      ),
    [document, key],
  );
  useEffect(() => {
    void reload();
    if (!pollMs) return;
    const timer = setInterval(() => void reload(), pollMs);
    return () => clearInterval(timer);
  }, [reload, pollMs]);
  return { data, error, reload };
}

/** Where a subscription stands: its socket is opening, it is live, or the socket failed (the caller polls). */
export type LiveState = 'connecting' | 'live' | 'blocked';

/**
 * Follows a subscription over the WebSocket at /graphql, calling onData with each result. A notice
 * published between the page's first query and the subscription reaching the server goes to nobody,
 * so `onConnected` (a page's refresh) runs once the socket is up, and only then is the state 'live'.
 * 'blocked' once the socket failed (a proxy that blocks WebSockets, a refused token): the caller polls.
 */
export function useSubscription<R, V extends Record<string, unknown>>(
  document: TypedDocumentNode<R, V>,
  variables: V | undefined,
  onData: (data: R) => void,
  onConnected?: () => unknown,
): LiveState {
  const [state, setState] = useState<LiveState>('connecting');
  const handler = useRef(onData);
  handler.current = onData;
  const connected = useRef(onConnected);
  connected.current = onConnected;
  const key = JSON.stringify(variables ?? {});
  // biome-ignore lint/correctness/useExhaustiveDependencies: one socket per query and variables by value (key); the handlers are read through refs
  useEffect(() => {
    const token = getToken();
    let disposed = false;
    const client = createClient({
      url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`,
      lazy: true,
      retryAttempts: 0,
      connectionParams: token ? { authorization: `Bearer ${token}` } : {},
      on: {
        connected: () => {
          void Promise.resolve(connected.current?.()).finally(() => !disposed && setState((now) => (now === 'blocked' ? now : 'live')));
        },
      },
    });
    const unsubscribe = client.subscribe<R>(
      { query: print(document), variables },
      {
        next: (result) => result.data && handler.current(result.data as R),
        error: () => setState('blocked'),
        complete: () => undefined,
      },
    );
    return () => {
      disposed = true;
      unsubscribe();
      void client.dispose();
    };
  }, [document, key]);
  return state;
}

export const nodesOf = <N>(connection: { edges: { node: N }[] }): N[] => connection.edges.map((edge) => edge.node);

export const pct = (value: number) => `${(value * 100).toFixed(1)}%`;
export const f3 = (value: number) => value.toFixed(3);

/**
 * The address to show one of the server's item images (/items/ID/crop.jpg, photo.jpg) from. They have
 * the read rules of queries, and an <img> cannot send the Authorization header: with a token the image
 * is fetched with it and shown from a blob URL; without one the plain URL serves (and caches).
 */
export function useImageSrc(url: string | undefined): string | undefined {
  const token = getToken();
  const [blob, setBlob] = useState<{ url: string; src: string }>();
  useEffect(() => {
    if (!url || !token) return;
    let cancelled = false;
    let made: string | undefined;
    fetch(url, { headers: { authorization: `Bearer ${token}` } })
      .then((response) => (response.ok ? response.blob() : Promise.reject(new Error(`${url}: ${response.status}`))))
      .then((body) => {
        if (cancelled) return;
        made = URL.createObjectURL(body);
        setBlob({ url, src: made });
      })
      // A refused or missing image stays blank, as a broken <img> would.
      .catch(() => undefined);
    return () => {
      cancelled = true;
      if (made) URL.revokeObjectURL(made);
    };
  }, [url, token]);
  if (!url || !token) return url;
  return blob?.url === url ? blob.src : undefined;
}
