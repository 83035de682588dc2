-- AlterTable
ALTER TABLE "Dataset" ADD COLUMN     "rankingMetric" TEXT NOT NULL DEFAULT 'MEAN_TOP1';

