-- AlterTable
ALTER TABLE "PredictionJob" ADD COLUMN     "seasonOverridden" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "seasonProfile" TEXT,
ADD COLUMN     "seasonReasons" JSONB;

