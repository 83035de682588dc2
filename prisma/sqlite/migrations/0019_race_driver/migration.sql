-- AlterTable
ALTER TABLE "Sweep" ADD COLUMN "raceDriver" TEXT;
ALTER TABLE "Sweep" ADD COLUMN "raceDriverAt" DATETIME;

