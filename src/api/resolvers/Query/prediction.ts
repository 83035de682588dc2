import { requireRole } from '../../../auth/tokens.js';
import { notFound } from '../../../errors.js';
import type { QueryResolvers } from '../../generated/graphql.js';

export const prediction: NonNullable<QueryResolvers['prediction']> = async (_parent, { id }, { services, caller }) => {
  requireRole(caller, 'trainer', 'prediction');
  const row = await services.db.prediction.findUnique({ where: { id } });
  if (!row) throw notFound('logged prediction', `"${id}"`);
  return row;
};
