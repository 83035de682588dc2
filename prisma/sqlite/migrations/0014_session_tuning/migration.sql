-- AlterTable
ALTER TABLE "ModelArtifact" ADD COLUMN "sessionTuning" JSONB;

