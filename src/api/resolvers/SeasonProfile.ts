import { submissionColumns } from '../../seasons/profiles.js';
import type { SeasonProfileResolvers, SeasonVerdictResolvers, SubmissionResolvers } from '../generated/graphql.js';

export const SeasonProfile: SeasonProfileResolvers = {
  sizeLimitMB: (row) => row.sizeLimitMb,
  triesPerDay: (row) => row.submission.triesPerDay,
  submissionColumns: (row) => submissionColumns(row),
  sources: (row) => row.sources.map((s) => ({ fact: s.fact, sourced: s.status === 'sourced', note: s.note })),
  // A user's profile came from a file on the server: clients learn only that it is not built in.
  builtIn: (row) => row.origin === 'built-in',
};

export const SeasonVerdict: SeasonVerdictResolvers = {
  profile: (row, _args, { services }) => services.seasons.profiles.get(row.profileId),
};

export const Submission: SubmissionResolvers = {
  id: (row) => String(row.id),
  profile: (row) => row.profileId,
  model: (row) => ({ kind: row.modelKind as 'artifact' | 'ensemble', id: row.modelId }),
  reasons: (row) => (row.verdict as { reasons?: string[] }).reasons ?? [],
};
