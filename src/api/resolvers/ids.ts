// GraphQL IDs are strings; rows are keyed by integers.
import { badInput } from '../../errors.js';

export function parseId(id: string, what: string): number {
  const value = Number(id);
  if (!/^\d+$/.test(id) || !Number.isSafeInteger(value) || value < 1) throw badInput(`${what} id must be a positive integer, got "${id}"`);
  return value;
}
