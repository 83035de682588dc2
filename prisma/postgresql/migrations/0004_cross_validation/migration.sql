-- AlterTable
ALTER TABLE "TrainingRun" ADD COLUMN     "crossValidationId" INTEGER,
ADD COLUMN     "foldIndex" INTEGER;

-- CreateTable
CREATE TABLE "CrossValidation" (
    "id" SERIAL NOT NULL,
    "datasetId" INTEGER NOT NULL,
    "backbone" TEXT NOT NULL,
    "head" TEXT NOT NULL,
    "folds" INTEGER NOT NULL,
    "seed" INTEGER NOT NULL,
    "ensembleId" INTEGER,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "CrossValidation_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "FoldPrediction" (
    "id" SERIAL NOT NULL,
    "crossValidationId" INTEGER NOT NULL,
    "itemId" INTEGER NOT NULL,
    "foldIndex" INTEGER NOT NULL,
    "probabilities" JSONB NOT NULL,

    CONSTRAINT "FoldPrediction_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "FoldPrediction_crossValidationId_itemId_key" ON "FoldPrediction"("crossValidationId", "itemId");

-- AddForeignKey
ALTER TABLE "TrainingRun" ADD CONSTRAINT "TrainingRun_crossValidationId_fkey" FOREIGN KEY ("crossValidationId") REFERENCES "CrossValidation"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "CrossValidation" ADD CONSTRAINT "CrossValidation_datasetId_fkey" FOREIGN KEY ("datasetId") REFERENCES "Dataset"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "FoldPrediction" ADD CONSTRAINT "FoldPrediction_crossValidationId_fkey" FOREIGN KEY ("crossValidationId") REFERENCES "CrossValidation"("id") ON DELETE CASCADE ON UPDATE CASCADE;

