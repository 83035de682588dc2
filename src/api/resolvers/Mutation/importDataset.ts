import { requireRole } from '../../../auth/tokens.js';
import { importDataset as runImport } from '../../../data/import.js';
import type { MutationResolvers } from '../../generated/graphql.js';
import { nullsAsAbsent } from '../absent.js';

export const importDataset: NonNullable<MutationResolvers['importDataset']> = async (_parent, { input }, { services, caller }) => {
  requireRole(caller, 'trainer', 'importDataset');
  const outcome = await runImport({ skipInvalid: false, ...nullsAsAbsent(input) }, services.importContext);
  return {
    dataset: await services.datasets.get(outcome.datasetId),
    created: outcome.created,
    itemCount: outcome.itemCount,
    rejects: outcome.rejects,
  };
};
