// Lists read a page at a time through connections, with rows merged in as subscriptions push them.
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { useCallback, useEffect, useState } from 'react';
import { type ApiError, nodesOf, request } from './api.js';

type Connection<N> = { edges: { node: N }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null }; totalCount: number };

/**
 * A list read a page at a time through a connection: `more` asks for the next page. `merge` puts
 * rows in (an update replaces the row with the same id; a new row goes where `before` says).
 */
export function usePages<R, V extends { after?: string | null }, N extends { id: string }>(
  document: TypedDocumentNode<R, V>,
  variables: Omit<V, 'after'>,
  pick: (result: R) => Connection<N>,
  before: (a: N, b: N) => boolean,
) {
  const [rows, setRows] = useState<N[]>();
  const [cursor, setCursor] = useState<string | null>(null);
  const [total, setTotal] = useState(0);
  const [error, setError] = useState<ApiError>();
  const key = JSON.stringify(variables);
  /** `toEnd`: a row past the last one shown goes at the end (a page read in order) rather than being
   *  left to a page not loaded yet (a pushed update). */
  // biome-ignore lint/correctness/useExhaustiveDependencies: one merge for the hook's life; `before` is the caller's fixed order
  const merge = useCallback(
    (updates: N[], toEnd: boolean) =>
      setRows((current = []) => {
        const next = [...current];
        for (const row of updates) {
          const at = next.findIndex((r) => r.id === row.id);
          if (at >= 0) next[at] = row;
          else {
            const place = next.findIndex((r) => before(row, r));
            if (place >= 0) next.splice(place, 0, row);
            else if (toEnd) next.push(row);
          }
        }
        return next;
      }),
    [],
  );
  // biome-ignore lint/correctness/useExhaustiveDependencies: variables count by value (key), not by identity
  const load = useCallback(
    async (after: string | null) => {
      try {
        const page = pick(await request(document, { ...variables, after } as V));
        merge(nodesOf(page), true);
        setTotal(page.totalCount);
        if (after !== null || cursor === null) setCursor(page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null);
        setError(undefined);
      } catch (e) {
        setError(e as ApiError);
      }
    },
    [document, key, cursor],
  );
  // biome-ignore lint/correctness/useExhaustiveDependencies: the first page again when the query or its variables change, not when load does
  useEffect(() => {
    void load(null);
  }, [document, key]);
  return {
    rows,
    total,
    error,
    hasMore: cursor !== null,
    more: () => load(cursor),
    refresh: () => load(null),
    merge: (updates: N[]) => merge(updates, cursor === null),
  };
}

/** `before` for a list read in the order the server gives: each page goes after the last. */
export const inOrder = () => false;

/** "Load more" under a paged table, with how many rows are shown of how many there are. */
export function MoreButton({ shown, total, hasMore, more }: { shown: number; total: number; hasMore: boolean; more: () => Promise<void> }) {
  if (!hasMore) return null;
  return (
    <p className="muted">
      {shown} of {total} shown{' '}
      <button type="button" onClick={() => void more()} data-testid="load-more">
        Load more
      </button>
    </p>
  );
}
