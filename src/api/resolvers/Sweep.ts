import type { RankingMetric } from '../../data/import.js';
import { rungEpochs, type SweepStrategy } from '../../training/sweep.js';
import { scoreOf } from '../../training/sweepService.js';
import type { SweepResolvers, SweepTrialResolvers } from '../generated/graphql.js';
import { raceDetails } from './race.js';

export const Sweep: SweepResolvers = {
  id: (row) => String(row.id),
  dataset: (row, _args, { services }) => services.datasets.get(row.datasetId),
  strategy: (row) => row.strategy as SweepStrategy,
  metric: (row) => row.metric as RankingMetric,
  space: (row) => row.space,
  baseOptions: (row) => row.baseOptions,
  // Derived from the sweep's own settings, as its trials' rungs were (no trial needs reading).
  rungEpochs: (row) => (row.strategy === 'ASHA' ? rungEpochs(row.minEpochs, row.reductionFactor, row.maxEpochs) : []),
  status: (row, _args, { services }) => services.sweeps.status(row.id),
  trials: (row, _args, { services }) => services.sweeps.trials(row.id),
  best: (row, _args, { services }) => services.sweeps.best(row),
  race: (row, _args, context) => raceDetails(row, context),
};

export const SweepTrial: SweepTrialResolvers = {
  index: ({ record }) => record.index,
  run: ({ run }) => run,
  sweep: ({ record }, _args, { services }) => services.sweeps.get(record.sweepId),
  parameters: ({ record }) => record.parameters,
  rungs: ({ record }) => record.rungs,
  pruned: ({ record }) => record.prunedAtEpoch !== null,
  prunedAtEpoch: ({ record }) => record.prunedAtEpoch,
  score: async ({ run, record }, _args, { services }) => scoreOf(run, (await services.sweeps.get(record.sweepId)).metric),
};
