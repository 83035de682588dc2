-- AlterTable
ALTER TABLE "Dataset" ADD COLUMN     "parentId" INTEGER,
ADD COLUMN     "version" INTEGER NOT NULL DEFAULT 1;

-- CreateTable
CREATE TABLE "LabelIssueScan" (
    "id" SERIAL NOT NULL,
    "datasetId" INTEGER NOT NULL,
    "crossValidationId" INTEGER,
    "artifactId" INTEGER,
    "ensembleId" INTEGER,
    "split" TEXT,
    "itemCount" INTEGER NOT NULL,
    "tasks" JSONB NOT NULL,
    "reviewedDatasetId" INTEGER,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "LabelIssueScan_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "LabelIssue" (
    "id" SERIAL NOT NULL,
    "scanId" INTEGER NOT NULL,
    "itemId" INTEGER NOT NULL,
    "task" INTEGER NOT NULL,
    "rank" INTEGER NOT NULL,
    "givenClass" INTEGER NOT NULL,
    "selfConfidence" DOUBLE PRECISION NOT NULL,
    "suggestedClass" INTEGER NOT NULL,
    "suggestedProbability" DOUBLE PRECISION NOT NULL,
    "decision" TEXT NOT NULL DEFAULT 'PENDING',
    "relabelTo" INTEGER,
    "reviewedAt" TIMESTAMP(3),

    CONSTRAINT "LabelIssue_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "LabelIssueScan_reviewedDatasetId_key" ON "LabelIssueScan"("reviewedDatasetId");

-- CreateIndex
CREATE INDEX "LabelIssueScan_datasetId_idx" ON "LabelIssueScan"("datasetId");

-- CreateIndex
CREATE INDEX "LabelIssue_scanId_task_rank_idx" ON "LabelIssue"("scanId", "task", "rank");

-- CreateIndex
CREATE UNIQUE INDEX "LabelIssue_scanId_itemId_task_key" ON "LabelIssue"("scanId", "itemId", "task");

-- AddForeignKey
ALTER TABLE "Dataset" ADD CONSTRAINT "Dataset_parentId_fkey" FOREIGN KEY ("parentId") REFERENCES "Dataset"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "LabelIssueScan" ADD CONSTRAINT "LabelIssueScan_datasetId_fkey" FOREIGN KEY ("datasetId") REFERENCES "Dataset"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "LabelIssue" ADD CONSTRAINT "LabelIssue_scanId_fkey" FOREIGN KEY ("scanId") REFERENCES "LabelIssueScan"("id") ON DELETE CASCADE ON UPDATE CASCADE;

