-- CreateTable
CREATE TABLE "CrossValidation" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "datasetId" INTEGER NOT NULL,
    "backbone" TEXT NOT NULL,
    "head" TEXT NOT NULL,
    "folds" INTEGER NOT NULL,
    "seed" INTEGER NOT NULL,
    "ensembleId" INTEGER,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "CrossValidation_datasetId_fkey" FOREIGN KEY ("datasetId") REFERENCES "Dataset" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "FoldPrediction" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "crossValidationId" INTEGER NOT NULL,
    "itemId" INTEGER NOT NULL,
    "foldIndex" INTEGER NOT NULL,
    "probabilities" JSONB NOT NULL,
    CONSTRAINT "FoldPrediction_crossValidationId_fkey" FOREIGN KEY ("crossValidationId") REFERENCES "CrossValidation" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_TrainingRun" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "datasetId" INTEGER NOT NULL,
    "backbone" TEXT NOT NULL,
    "head" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'QUEUED',
    "config" JSONB NOT NULL,
    "progress" JSONB,
    "epochs" JSONB,
    "device" TEXT,
    "pretrained" BOOLEAN,
    "error" TEXT,
    "stderrTail" TEXT,
    "runDir" TEXT,
    "ownerPid" INTEGER,
    "workerPid" INTEGER,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "workerId" TEXT,
    "heartbeatAt" DATETIME,
    "checkpointSha256" TEXT,
    "distillation" JSONB,
    "sweepId" INTEGER,
    "trial" JSONB,
    "crossValidationId" INTEGER,
    "foldIndex" INTEGER,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "startedAt" DATETIME,
    "finishedAt" DATETIME,
    CONSTRAINT "TrainingRun_datasetId_fkey" FOREIGN KEY ("datasetId") REFERENCES "Dataset" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "TrainingRun_sweepId_fkey" FOREIGN KEY ("sweepId") REFERENCES "Sweep" ("id") ON DELETE SET NULL ON UPDATE CASCADE,
    CONSTRAINT "TrainingRun_crossValidationId_fkey" FOREIGN KEY ("crossValidationId") REFERENCES "CrossValidation" ("id") ON DELETE SET NULL ON UPDATE CASCADE
);
INSERT INTO "new_TrainingRun" ("attempts", "backbone", "checkpointSha256", "config", "createdAt", "datasetId", "device", "distillation", "epochs", "error", "finishedAt", "head", "heartbeatAt", "id", "ownerPid", "pretrained", "progress", "runDir", "startedAt", "status", "stderrTail", "sweepId", "trial", "workerId", "workerPid") SELECT "attempts", "backbone", "checkpointSha256", "config", "createdAt", "datasetId", "device", "distillation", "epochs", "error", "finishedAt", "head", "heartbeatAt", "id", "ownerPid", "pretrained", "progress", "runDir", "startedAt", "status", "stderrTail", "sweepId", "trial", "workerId", "workerPid" FROM "TrainingRun";
DROP TABLE "TrainingRun";
ALTER TABLE "new_TrainingRun" RENAME TO "TrainingRun";
CREATE INDEX "TrainingRun_status_idx" ON "TrainingRun"("status");
CREATE INDEX "TrainingRun_sweepId_idx" ON "TrainingRun"("sweepId");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

-- CreateIndex
CREATE UNIQUE INDEX "FoldPrediction_crossValidationId_itemId_key" ON "FoldPrediction"("crossValidationId", "itemId");

