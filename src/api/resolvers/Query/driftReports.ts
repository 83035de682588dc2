import { badInput } from '../../../errors.js';
import type { QueryResolvers } from '../../generated/graphql.js';
import type { DriftReportRow } from '../mappers.js';

export const driftReports: NonNullable<QueryResolvers['driftReports']> = async (_parent, { alias, first }, { services }) => {
  const take = first ?? 20;
  if (!(take >= 1 && take <= 100)) throw badInput(`first must be between 1 and 100, got ${take}`);
  return (await services.db.driftReport.findMany({ where: { alias }, orderBy: { id: 'desc' }, take })) as DriftReportRow[];
};
