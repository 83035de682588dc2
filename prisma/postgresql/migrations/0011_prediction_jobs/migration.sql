-- AlterTable
ALTER TABLE "Dataset" ADD COLUMN     "labelled" BOOLEAN NOT NULL DEFAULT true;

-- CreateTable
CREATE TABLE "PredictionJob" (
    "id" SERIAL NOT NULL,
    "datasetId" INTEGER NOT NULL,
    "alias" TEXT,
    "modelKind" TEXT NOT NULL,
    "modelId" INTEGER NOT NULL,
    "modelName" TEXT NOT NULL,
    "split" TEXT,
    "status" TEXT NOT NULL DEFAULT 'QUEUED',
    "itemCount" INTEGER NOT NULL,
    "itemsDone" INTEGER NOT NULL DEFAULT 0,
    "itemsPerSecond" DOUBLE PRECISION,
    "error" TEXT,
    "ownerPid" INTEGER,
    "workerId" TEXT,
    "heartbeatAt" TIMESTAMP(3),
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "csvSha256" TEXT,
    "csvBytes" INTEGER,
    "jsonlSha256" TEXT,
    "jsonlBytes" INTEGER,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "startedAt" TIMESTAMP(3),
    "finishedAt" TIMESTAMP(3),

    CONSTRAINT "PredictionJob_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "PredictionJobRow" (
    "jobId" INTEGER NOT NULL,
    "itemId" INTEGER NOT NULL,
    "line" INTEGER NOT NULL,
    "predicted" JSONB NOT NULL,
    "probabilities" JSONB NOT NULL,

    CONSTRAINT "PredictionJobRow_pkey" PRIMARY KEY ("jobId","itemId")
);

-- CreateIndex
CREATE INDEX "PredictionJob_status_idx" ON "PredictionJob"("status");

-- CreateIndex
CREATE INDEX "PredictionJob_datasetId_idx" ON "PredictionJob"("datasetId");

-- CreateIndex
CREATE INDEX "PredictionJobRow_jobId_line_idx" ON "PredictionJobRow"("jobId", "line");

-- AddForeignKey
ALTER TABLE "PredictionJob" ADD CONSTRAINT "PredictionJob_datasetId_fkey" FOREIGN KEY ("datasetId") REFERENCES "Dataset"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "PredictionJobRow" ADD CONSTRAINT "PredictionJobRow_jobId_fkey" FOREIGN KEY ("jobId") REFERENCES "PredictionJob"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "PredictionJobRow" ADD CONSTRAINT "PredictionJobRow_itemId_fkey" FOREIGN KEY ("itemId") REFERENCES "Item"("id") ON DELETE CASCADE ON UPDATE CASCADE;

