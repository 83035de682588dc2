-- AlterTable
ALTER TABLE "TrainingRun" ADD COLUMN     "sweepId" INTEGER,
ADD COLUMN     "trial" JSONB;

-- CreateTable
CREATE TABLE "Sweep" (
    "id" SERIAL NOT NULL,
    "datasetId" INTEGER NOT NULL,
    "strategy" TEXT NOT NULL,
    "metric" TEXT NOT NULL,
    "space" JSONB NOT NULL,
    "baseOptions" JSONB NOT NULL,
    "trialCount" INTEGER NOT NULL,
    "seed" INTEGER NOT NULL,
    "minEpochs" INTEGER NOT NULL,
    "reductionFactor" INTEGER NOT NULL,
    "maxEpochs" INTEGER NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Sweep_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "TrainingRun_sweepId_idx" ON "TrainingRun"("sweepId");

-- AddForeignKey
ALTER TABLE "TrainingRun" ADD CONSTRAINT "TrainingRun_sweepId_fkey" FOREIGN KEY ("sweepId") REFERENCES "Sweep"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Sweep" ADD CONSTRAINT "Sweep_datasetId_fkey" FOREIGN KEY ("datasetId") REFERENCES "Dataset"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

