import { requireRole } from '../../../auth/tokens.js';
import { onlineReport as report } from '../../../reports/online.js';
import type { QueryResolvers } from '../../generated/graphql.js';

const DAY_MS = 86_400_000;

// Bootstrap intervals over up to MAX_ONLINE_ROWS predictions: work a trainer asks for, not any reader.
export const onlineReport: NonNullable<QueryResolvers['onlineReport']> = async (_parent, { input }, { services, caller }) => {
  requireRole(caller, 'trainer', 'onlineReport');
  await services.aliases.get(input.alias);
  const to = input.to ?? new Date();
  return report(services.db, { alias: input.alias, from: input.from ?? new Date(to.getTime() - 30 * DAY_MS), to });
};
