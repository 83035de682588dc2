-- CreateTable
CREATE TABLE "ReportPrediction" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "reportId" INTEGER NOT NULL,
    "itemId" INTEGER NOT NULL,
    "task" INTEGER NOT NULL,
    "trueClass" INTEGER NOT NULL,
    "predictedClass" INTEGER NOT NULL,
    "confidence" REAL NOT NULL,
    "trueProbability" REAL NOT NULL,
    CONSTRAINT "ReportPrediction_reportId_fkey" FOREIGN KEY ("reportId") REFERENCES "EvaluationReport" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_EvaluationReport" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "datasetId" INTEGER NOT NULL,
    "split" TEXT NOT NULL,
    "runId" INTEGER,
    "artifactId" INTEGER,
    "ensembleId" INTEGER,
    "itemCount" INTEGER NOT NULL,
    "metrics" JSONB NOT NULL,
    "durationMs" INTEGER NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "parentReportId" INTEGER,
    CONSTRAINT "EvaluationReport_datasetId_fkey" FOREIGN KEY ("datasetId") REFERENCES "Dataset" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "EvaluationReport_runId_fkey" FOREIGN KEY ("runId") REFERENCES "TrainingRun" ("id") ON DELETE SET NULL ON UPDATE CASCADE,
    CONSTRAINT "EvaluationReport_artifactId_fkey" FOREIGN KEY ("artifactId") REFERENCES "ModelArtifact" ("id") ON DELETE SET NULL ON UPDATE CASCADE,
    CONSTRAINT "EvaluationReport_ensembleId_fkey" FOREIGN KEY ("ensembleId") REFERENCES "Ensemble" ("id") ON DELETE SET NULL ON UPDATE CASCADE,
    CONSTRAINT "EvaluationReport_parentReportId_fkey" FOREIGN KEY ("parentReportId") REFERENCES "EvaluationReport" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "new_EvaluationReport" ("artifactId", "createdAt", "datasetId", "durationMs", "ensembleId", "id", "itemCount", "metrics", "runId", "split") SELECT "artifactId", "createdAt", "datasetId", "durationMs", "ensembleId", "id", "itemCount", "metrics", "runId", "split" FROM "EvaluationReport";
DROP TABLE "EvaluationReport";
ALTER TABLE "new_EvaluationReport" RENAME TO "EvaluationReport";
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

-- CreateIndex
CREATE INDEX "ReportPrediction_reportId_task_confidence_idx" ON "ReportPrediction"("reportId", "task", "confidence");

