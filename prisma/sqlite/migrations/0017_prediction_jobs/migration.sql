-- CreateTable
CREATE TABLE "PredictionJob" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "datasetId" INTEGER NOT NULL,
    "alias" TEXT,
    "modelKind" TEXT NOT NULL,
    "modelId" INTEGER NOT NULL,
    "modelName" TEXT NOT NULL,
    "split" TEXT,
    "status" TEXT NOT NULL DEFAULT 'QUEUED',
    "itemCount" INTEGER NOT NULL,
    "itemsDone" INTEGER NOT NULL DEFAULT 0,
    "itemsPerSecond" REAL,
    "error" TEXT,
    "ownerPid" INTEGER,
    "workerId" TEXT,
    "heartbeatAt" DATETIME,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "csvSha256" TEXT,
    "csvBytes" INTEGER,
    "jsonlSha256" TEXT,
    "jsonlBytes" INTEGER,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "startedAt" DATETIME,
    "finishedAt" DATETIME,
    CONSTRAINT "PredictionJob_datasetId_fkey" FOREIGN KEY ("datasetId") REFERENCES "Dataset" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "PredictionJobRow" (
    "jobId" INTEGER NOT NULL,
    "itemId" INTEGER NOT NULL,
    "line" INTEGER NOT NULL,
    "predicted" JSONB NOT NULL,
    "probabilities" JSONB NOT NULL,

    PRIMARY KEY ("jobId", "itemId"),
    CONSTRAINT "PredictionJobRow_jobId_fkey" FOREIGN KEY ("jobId") REFERENCES "PredictionJob" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "PredictionJobRow_itemId_fkey" FOREIGN KEY ("itemId") REFERENCES "Item" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- AlterTable
ALTER TABLE "Dataset" ADD COLUMN "labelled" BOOLEAN NOT NULL DEFAULT true;

-- CreateIndex
CREATE INDEX "PredictionJob_status_idx" ON "PredictionJob"("status");

-- CreateIndex
CREATE INDEX "PredictionJob_datasetId_idx" ON "PredictionJob"("datasetId");

-- CreateIndex
CREATE INDEX "PredictionJobRow_jobId_line_idx" ON "PredictionJobRow"("jobId", "line");

