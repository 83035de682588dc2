-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_PredictionJob" (
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
    "seasonProfile" TEXT,
    "seasonReasons" JSONB,
    "seasonOverridden" BOOLEAN NOT NULL DEFAULT false,
    CONSTRAINT "PredictionJob_datasetId_fkey" FOREIGN KEY ("datasetId") REFERENCES "Dataset" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "new_PredictionJob" ("alias", "attempts", "createdAt", "csvBytes", "csvSha256", "datasetId", "error", "finishedAt", "heartbeatAt", "id", "itemCount", "itemsDone", "itemsPerSecond", "jsonlBytes", "jsonlSha256", "modelId", "modelKind", "modelName", "ownerPid", "split", "startedAt", "status", "workerId") SELECT "alias", "attempts", "createdAt", "csvBytes", "csvSha256", "datasetId", "error", "finishedAt", "heartbeatAt", "id", "itemCount", "itemsDone", "itemsPerSecond", "jsonlBytes", "jsonlSha256", "modelId", "modelKind", "modelName", "ownerPid", "split", "startedAt", "status", "workerId" FROM "PredictionJob";
DROP TABLE "PredictionJob";
ALTER TABLE "new_PredictionJob" RENAME TO "PredictionJob";
CREATE INDEX "PredictionJob_status_idx" ON "PredictionJob"("status");
CREATE INDEX "PredictionJob_datasetId_idx" ON "PredictionJob"("datasetId");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

