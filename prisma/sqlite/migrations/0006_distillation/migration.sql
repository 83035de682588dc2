-- AlterTable
ALTER TABLE "TrainingRun" ADD COLUMN "distillation" JSONB;

