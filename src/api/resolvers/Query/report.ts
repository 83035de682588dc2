import { notFound } from '../../../errors.js';
import type { QueryResolvers } from '../../generated/graphql.js';
import { parseId } from '../ids.js';

export const report: NonNullable<QueryResolvers['report']> = async (_parent, { id }, { services }) => {
  const row = await services.db.evaluationReport.findUnique({ where: { id: parseId(id, 'report') } });
  if (!row) throw notFound('report', id);
  return row;
};
