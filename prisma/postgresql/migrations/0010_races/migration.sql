-- AlterTable
ALTER TABLE "Sweep" ADD COLUMN     "budgetSeconds" INTEGER,
ADD COLUMN     "race" JSONB;

