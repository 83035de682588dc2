// Relay connections as async iterables: a page is asked for only when the caller gets that far.
import type { PageFieldsFragment } from './generated.js';

export type Connection<Node> = { edges: { node: Node }[]; pageInfo: PageFieldsFragment };

/** Walks a connection from the start; each page is asked for only when the caller gets that far. */
export async function* walk<Node>(page: (after: string | undefined) => Promise<Connection<Node>>): AsyncGenerator<Node, void, undefined> {
  let after: string | undefined;
  for (;;) {
    const { edges, pageInfo } = await page(after);
    for (const edge of edges) yield edge.node;
    if (!pageInfo.hasNextPage || !pageInfo.endCursor) return;
    after = pageInfo.endCursor;
  }
}

export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}
