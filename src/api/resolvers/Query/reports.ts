import type { QueryResolvers } from '../../generated/graphql.js';
import { reportWhere } from '../filters.js';

export const reports: NonNullable<QueryResolvers['reports']> = (_parent, { filter }, { services }) =>
  services.db.evaluationReport.findMany({ where: reportWhere(filter), orderBy: { id: 'desc' } });
