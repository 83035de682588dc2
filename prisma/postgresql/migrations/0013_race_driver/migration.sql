-- AlterTable
ALTER TABLE "Sweep" ADD COLUMN     "raceDriver" TEXT,
ADD COLUMN     "raceDriverAt" TIMESTAMP(3);

