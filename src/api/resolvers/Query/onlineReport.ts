import { onlineReport as report } from '../../../reports/online.js';
import type { QueryResolvers } from '../../generated/graphql.js';

const DAY_MS = 86_400_000;

export const onlineReport: NonNullable<QueryResolvers['onlineReport']> = async (_parent, { input }, { services }) => {
  await services.aliases.get(input.alias);
  const to = input.to ?? new Date();
  return report(services.db, { alias: input.alias, from: input.from ?? new Date(to.getTime() - 30 * DAY_MS), to });
};
