// Cursor pagination (Relay connections) for every list that grows with use. Rows are ordered by
// (createdAt, id) and a page starts strictly after its cursor's position (keyset pagination), so a
// cursor stays valid, and no row repeats or goes missing, while rows are added between pages.
import { AppError, ErrorCode } from '../errors.js';

/** The most rows one page may hold; more answers BAD_USER_INPUT with extensions.limit MAX_PAGE_SIZE. */
export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 20;

export type SortOrder = 'OLDEST_FIRST' | 'NEWEST_FIRST';

export interface PageRequest {
  first?: number | null;
  after?: string | null;
  order?: SortOrder | null;
}

interface Positioned {
  id: number;
  createdAt: Date;
}

export interface Page<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
  /** Counted only when a client asks for it (GraphQL's default resolver calls it). */
  totalCount: () => Promise<number>;
}

type Direction = 'asc' | 'desc';

/** What a table's findMany needs for one page: the rows after the cursor, in order, one more than asked. */
export interface PageQuery {
  where: { OR?: ({ createdAt: { gt: Date } | { lt: Date } } | { createdAt: Date; id: { gt: number } | { lt: number } })[] };
  orderBy: [{ createdAt: Direction }, { id: Direction }];
  take: number;
}

const CURSOR_VERSION = 'v1';

/** Opaque to clients: base64url of the row's position; the version lets the format change later. */
export function encodeCursor(row: Positioned): string {
  return Buffer.from(`${CURSOR_VERSION}:${row.createdAt.getTime()}:${row.id}`).toString('base64url');
}

export function decodeCursor(cursor: string): Positioned {
  const [version, time, id] = Buffer.from(cursor, 'base64url').toString('utf8').split(':');
  const createdAt = new Date(Number(time));
  if (version !== CURSOR_VERSION || !/^\d+$/.test(time ?? '') || !/^\d+$/.test(id ?? '') || Number.isNaN(createdAt.getTime())) {
    throw new AppError(ErrorCode.BAD_USER_INPUT, `after must be a cursor this API gave (an edge's cursor or pageInfo.endCursor), got "${cursor}"`);
  }
  return { createdAt, id: Number(id) };
}

/** Checks the request and says which rows the page holds. */
export function pageQuery(request: PageRequest): PageQuery {
  const first = request.first ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) {
    throw new AppError(
      ErrorCode.BAD_USER_INPUT,
      `first must be from 1 to ${MAX_PAGE_SIZE} (MAX_PAGE_SIZE), got ${first}: ask for the next page with after = pageInfo.endCursor`,
      {
        limit: 'MAX_PAGE_SIZE',
        max: MAX_PAGE_SIZE,
      },
    );
  }
  const direction: Direction = request.order === 'NEWEST_FIRST' ? 'desc' : 'asc';
  const after = request.after ? decodeCursor(request.after) : null;
  const past = <V>(value: V): { gt: V } | { lt: V } => (direction === 'asc' ? { gt: value } : { lt: value });
  return {
    where: after ? { OR: [{ createdAt: past(after.createdAt) }, { createdAt: after.createdAt, id: past(after.id) }] } : {},
    orderBy: [{ createdAt: direction }, { id: direction }],
    take: first + 1,
  };
}

/** One page of a table: `find` runs the page query within the caller's filter, `count` counts the filter. */
export async function paginate<T extends Positioned>(
  request: PageRequest,
  find: (query: PageQuery) => Promise<T[]>,
  count: () => Promise<number>,
): Promise<Page<T>> {
  const query = pageQuery(request);
  const rows = await find(query);
  const page = rows.slice(0, query.take - 1);
  const edges = page.map((node) => ({ cursor: encodeCursor(node), node }));
  return {
    edges,
    pageInfo: {
      hasNextPage: rows.length > page.length,
      hasPreviousPage: Boolean(request.after),
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
    totalCount: count,
  };
}

const OFFSET_CURSOR_VERSION = 'o1';

function decodeOffsetCursor(cursor: string): number {
  const [version, offset] = Buffer.from(cursor, 'base64url').toString('utf8').split(':');
  if (version !== OFFSET_CURSOR_VERSION || !/^\d+$/.test(offset ?? '')) {
    throw new AppError(ErrorCode.BAD_USER_INPUT, `after must be a cursor this API gave (an edge's cursor or pageInfo.endCursor), got "${cursor}"`);
  }
  return Number(offset);
}

/** One page of rows that never change once written (a dataset's items, a report's predictions) in a
 *  fixed order: positions are stable, so a cursor is the row's position. `find(skip, take)` reads rows. */
export async function paginateByPosition<T>(
  request: Omit<PageRequest, 'order'>,
  find: (skip: number, take: number) => Promise<T[]>,
  count: () => Promise<number>,
): Promise<Page<T>> {
  const { take } = pageQuery({ first: request.first });
  const skip = request.after ? decodeOffsetCursor(request.after) + 1 : 0;
  const rows = await find(skip, take);
  const page = rows.slice(0, take - 1);
  const edges = page.map((node, i) => ({ cursor: Buffer.from(`${OFFSET_CURSOR_VERSION}:${skip + i}`).toString('base64url'), node }));
  return {
    edges,
    pageInfo: {
      hasNextPage: rows.length > page.length,
      hasPreviousPage: skip > 0,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
    totalCount: count,
  };
}
