import { requireRole } from '../../../auth/tokens.js';
import { importDataset as runImport } from '../../../data/import.js';
import type { MutationResolvers } from '../../generated/graphql.js';

export const importDataset: NonNullable<MutationResolvers['importDataset']> = async (_parent, { input }, { services, caller }) => {
  requireRole(caller, 'trainer', 'importDataset');
  const outcome = await runImport(
    {
      csvPath: input.csvPath,
      imageRoot: input.imageRoot ?? undefined,
      name: input.name ?? undefined,
      labelSchemaPath: input.labelSchemaPath ?? undefined,
      skipInvalid: input.skipInvalid ?? false,
      splitSeed: input.splitSeed ?? undefined,
      validationFraction: input.validationFraction ?? undefined,
      testFraction: input.testFraction ?? undefined,
    },
    services.importContext,
  );
  return {
    dataset: await services.datasets.get(outcome.datasetId),
    created: outcome.created,
    itemCount: outcome.itemCount,
    rejects: outcome.rejects,
  };
};
