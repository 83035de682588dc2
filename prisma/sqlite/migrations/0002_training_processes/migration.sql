-- AlterTable
ALTER TABLE "ModelArtifact" ADD COLUMN "exportMaxAbsDiff" REAL;

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
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "startedAt" DATETIME,
    "finishedAt" DATETIME,
    CONSTRAINT "TrainingRun_datasetId_fkey" FOREIGN KEY ("datasetId") REFERENCES "Dataset" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);
INSERT INTO "new_TrainingRun" ("backbone", "config", "createdAt", "datasetId", "device", "epochs", "error", "finishedAt", "head", "id", "pretrained", "progress", "runDir", "startedAt", "status", "stderrTail") SELECT "backbone", "config", "createdAt", "datasetId", "device", "epochs", "error", "finishedAt", "head", "id", "pretrained", "progress", "runDir", "startedAt", "status", "stderrTail" FROM "TrainingRun";
DROP TABLE "TrainingRun";
ALTER TABLE "new_TrainingRun" RENAME TO "TrainingRun";
CREATE INDEX "TrainingRun_status_idx" ON "TrainingRun"("status");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

