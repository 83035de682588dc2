import { VERSION } from '../../version.js';
import type { QueryResolvers } from '../../generated/graphql.js';

export const health: NonNullable<QueryResolvers['health']> = async (_parent, _args, { services }) => {
  const database = await services.db.$queryRawUnsafe('SELECT 1').then(
    () => true,
    () => false,
  );
  return { ok: database, version: VERSION, database };
};
