// Filter arguments as storage queries, shared by each list field, its connection and its subscription,
// so that one filter means the same rows everywhere.
import type { Prisma } from '../../db/generated/client.js';
import type { RunFilter as RunQuery } from '../../training/runRecord.js';
import type { ArtifactFilter, DatasetFilter, EnsembleFilter, ReportFilter, RunFilter, TokenFilter } from '../generated/graphql.js';
import { nullsAsAbsent } from './absent.js';
import { parseId } from './ids.js';

export function runFilterOf(filter: RunFilter | null | undefined): RunQuery {
  const { status, datasetId, backbone, head } = nullsAsAbsent(filter ?? {});
  return { status, datasetId: datasetId ? parseId(datasetId, 'dataset') : undefined, backbone, head };
}

/** Top-level reports only: an ensemble's member reports are reached through its report. */
export function reportWhere(filter: ReportFilter | null | undefined): Prisma.EvaluationReportWhereInput {
  return {
    parentReportId: null,
    ...(filter?.datasetId ? { datasetId: parseId(filter.datasetId, 'dataset') } : {}),
    ...(filter?.runId ? { runId: parseId(filter.runId, 'run') } : {}),
    ...(filter?.artifactId ? { artifactId: parseId(filter.artifactId, 'artifact') } : {}),
    ...(filter?.ensembleId ? { ensembleId: parseId(filter.ensembleId, 'ensemble') } : {}),
  };
}

export function datasetWhere(filter: DatasetFilter | null | undefined): Prisma.DatasetWhereInput {
  return filter?.nameContains ? { name: { contains: filter.nameContains } } : {};
}

export function ensembleWhere(filter: EnsembleFilter | null | undefined): Prisma.EnsembleWhereInput {
  return filter?.nameContains ? { name: { contains: filter.nameContains } } : {};
}

export function artifactWhere(filter: ArtifactFilter | null | undefined): Prisma.ModelArtifactWhereInput {
  return {
    ...(typeof filter?.imported === 'boolean' ? { runId: filter.imported ? null : { not: null } } : {}),
    ...(filter?.backbone || filter?.head
      ? { run: { ...(filter.backbone ? { backbone: filter.backbone } : {}), ...(filter.head ? { head: filter.head } : {}) } }
      : {}),
  };
}

export function tokenWhere(filter: TokenFilter | null | undefined): Prisma.ApiTokenWhereInput {
  return {
    ...(typeof filter?.revoked === 'boolean' ? { revokedAt: filter.revoked ? { not: null } : null } : {}),
    ...(filter?.role ? { role: filter.role } : {}),
  };
}
