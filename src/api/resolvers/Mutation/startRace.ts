import { requireRole } from '../../../auth/tokens.js';
import type { RacePreset } from '../../../training/race.js';
import type { MutationResolvers } from '../../generated/graphql.js';
import { parseId } from '../ids.js';
import { trainingOptionsOf } from '../trainingOptions.js';

export const startRace: NonNullable<MutationResolvers['startRace']> = (_parent, { input }, { services, caller }) => {
  requireRole(caller, 'trainer', 'startRace');
  return services.races.start({
    datasetId: parseId(input.datasetId, 'dataset'),
    budgetSeconds: input.seconds,
    preset: input.preset ? (input.preset.toLowerCase() as RacePreset) : undefined,
    options: trainingOptionsOf(input.options),
    sizeLimitMb: input.sizeLimitMb ?? undefined,
  });
};
