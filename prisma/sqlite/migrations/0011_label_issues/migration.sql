-- CreateTable
CREATE TABLE "LabelIssueScan" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "datasetId" INTEGER NOT NULL,
    "crossValidationId" INTEGER,
    "artifactId" INTEGER,
    "ensembleId" INTEGER,
    "split" TEXT,
    "itemCount" INTEGER NOT NULL,
    "tasks" JSONB NOT NULL,
    "reviewedDatasetId" INTEGER,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "LabelIssueScan_datasetId_fkey" FOREIGN KEY ("datasetId") REFERENCES "Dataset" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "LabelIssue" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "scanId" INTEGER NOT NULL,
    "itemId" INTEGER NOT NULL,
    "task" INTEGER NOT NULL,
    "rank" INTEGER NOT NULL,
    "givenClass" INTEGER NOT NULL,
    "selfConfidence" REAL NOT NULL,
    "suggestedClass" INTEGER NOT NULL,
    "suggestedProbability" REAL NOT NULL,
    "decision" TEXT NOT NULL DEFAULT 'PENDING',
    "relabelTo" INTEGER,
    "reviewedAt" DATETIME,
    CONSTRAINT "LabelIssue_scanId_fkey" FOREIGN KEY ("scanId") REFERENCES "LabelIssueScan" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_Dataset" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "name" TEXT NOT NULL,
    "csvPath" TEXT NOT NULL,
    "imageRoot" TEXT NOT NULL,
    "csvSha256" TEXT NOT NULL,
    "labelSchemaId" INTEGER NOT NULL,
    "splitSeed" INTEGER NOT NULL,
    "validationFraction" REAL NOT NULL,
    "testFraction" REAL NOT NULL DEFAULT 0,
    "rankingMetric" TEXT NOT NULL DEFAULT 'MEAN_TOP1',
    "itemCount" INTEGER NOT NULL,
    "rejectCount" INTEGER NOT NULL,
    "importMs" INTEGER NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "version" INTEGER NOT NULL DEFAULT 1,
    "parentId" INTEGER,
    CONSTRAINT "Dataset_labelSchemaId_fkey" FOREIGN KEY ("labelSchemaId") REFERENCES "LabelSchema" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "Dataset_parentId_fkey" FOREIGN KEY ("parentId") REFERENCES "Dataset" ("id") ON DELETE SET NULL ON UPDATE CASCADE
);
INSERT INTO "new_Dataset" ("createdAt", "csvPath", "csvSha256", "id", "imageRoot", "importMs", "itemCount", "labelSchemaId", "name", "rankingMetric", "rejectCount", "splitSeed", "testFraction", "validationFraction") SELECT "createdAt", "csvPath", "csvSha256", "id", "imageRoot", "importMs", "itemCount", "labelSchemaId", "name", "rankingMetric", "rejectCount", "splitSeed", "testFraction", "validationFraction" FROM "Dataset";
DROP TABLE "Dataset";
ALTER TABLE "new_Dataset" RENAME TO "Dataset";
CREATE UNIQUE INDEX "Dataset_csvSha256_key" ON "Dataset"("csvSha256");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

-- CreateIndex
CREATE UNIQUE INDEX "LabelIssueScan_reviewedDatasetId_key" ON "LabelIssueScan"("reviewedDatasetId");

-- CreateIndex
CREATE INDEX "LabelIssueScan_datasetId_idx" ON "LabelIssueScan"("datasetId");

-- CreateIndex
CREATE INDEX "LabelIssue_scanId_task_rank_idx" ON "LabelIssue"("scanId", "task", "rank");

-- CreateIndex
CREATE UNIQUE INDEX "LabelIssue_scanId_itemId_task_key" ON "LabelIssue"("scanId", "itemId", "task");

