import { requireRole } from '../../../auth/tokens.js';
import type { MutationResolvers } from '../../generated/graphql.js';
import { nullsAsAbsent } from '../absent.js';
import { parseId } from '../ids.js';

export const evaluate: NonNullable<MutationResolvers['evaluate']> = (_parent, { input }, { services, caller }) => {
  requireRole(caller, 'trainer', 'evaluate');
  const id = (value: string | null | undefined, what: string) => (value ? parseId(value, what) : undefined);
  return services.evaluation.evaluate({
    runId: id(input.runId, 'run'),
    artifactId: id(input.artifactId, 'artifact'),
    ensembleId: id(input.ensembleId, 'ensemble'),
    datasetId: id(input.datasetId, 'dataset'),
    split: nullsAsAbsent(input).split,
  });
};
