import { AppError, ErrorCode } from '../../../errors.js';
import type { QueryResolvers } from '../../generated/graphql.js';
import { parseId } from '../ids.js';

export const predictionJob: NonNullable<QueryResolvers['predictionJob']> = (_parent, { id }, { services }) =>
  services.predictions.get(parseId(id, 'prediction job')).catch((error: unknown) => {
    if (error instanceof AppError && error.code === ErrorCode.NOT_FOUND) return null;
    throw error;
  });
