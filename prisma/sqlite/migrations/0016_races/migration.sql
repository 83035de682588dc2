-- AlterTable
ALTER TABLE "Sweep" ADD COLUMN "budgetSeconds" INTEGER;
ALTER TABLE "Sweep" ADD COLUMN "race" JSONB;

