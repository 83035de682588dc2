import { notFound } from '../../../errors.js';
import type { QueryResolvers } from '../../generated/graphql.js';
import { parseId } from '../ids.js';

export const artifact: NonNullable<QueryResolvers['artifact']> = async (_parent, { id }, { services }) => {
  const row = await services.db.modelArtifact.findUnique({ where: { id: parseId(id, 'artifact') } });
  if (!row) throw notFound('artifact', id);
  return row;
};
