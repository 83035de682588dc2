import type { QueryResolvers } from '../../generated/graphql.js';
import { parseId } from '../ids.js';

export const randomItem: NonNullable<QueryResolvers['randomItem']> = (_parent, { datasetId, label, split }, { services }) =>
  services.datasets.randomItem(parseId(datasetId, 'dataset'), { split: split ?? undefined, labels: label ? [label] : undefined });
