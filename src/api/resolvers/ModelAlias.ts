// An alias, its history and both sides' live figures; the model refs they name.

import { badInput } from '../../errors.js';
import type { AliasSettings } from '../../inference/aliases.js';
import { settingsOf } from '../../inference/aliases.js';
import type { AliasChangeResolvers, AliasStateResolvers, ModelAliasResolvers, ModelRefResolvers } from '../generated/graphql.js';

export const ModelAlias: ModelAliasResolvers = {
  target: (row) => settingsOf(row).target,
  candidate: (row) => settingsOf(row).candidate,
  history: (row, { first }, { services }) => {
    const take = first ?? 20;
    if (!(take >= 1 && take <= 100)) throw badInput(`first must be between 1 and 100, got ${take}`);
    return services.aliases.history(row.id, take);
  },
  live: (row, _args, { services }) => services.router.comparison(row.name),
  season: (row, { profile }, { services }) => {
    const target = settingsOf(row).target;
    return services.seasons.judge(target, profile ? services.seasons.profiles.get(profile) : undefined);
  },
  latestDrift: async (row, _args, { services }) => services.db.driftReport.findFirst({ where: { alias: row.name }, orderBy: { id: 'desc' } }),
};

export const AliasChange: AliasChangeResolvers = {
  id: (row) => String(row.id),
  before: (row) => (row.before as AliasSettings | null) ?? null,
  after: (row) => row.after as unknown as AliasSettings,
  undoes: (row) => (row.undoes === null ? null : String(row.undoes)),
};

export const AliasState: AliasStateResolvers = {};

export const ModelRef: ModelRefResolvers = {
  id: (ref) => String(ref.id),
  name: async (ref, _args, { services }) =>
    ref.kind === 'ensemble' ? (await services.ensembles.get(ref.id)).name : (await services.db.modelArtifact.findUniqueOrThrow({ where: { id: ref.id } })).name,
  ensemble: (ref, _args, { services }) => (ref.kind === 'ensemble' ? services.ensembles.get(ref.id) : null),
  artifact: (ref, _args, { services }) => (ref.kind === 'artifact' ? services.db.modelArtifact.findUnique({ where: { id: ref.id } }) : null),
};
