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
    CONSTRAINT "Dataset_labelSchemaId_fkey" FOREIGN KEY ("labelSchemaId") REFERENCES "LabelSchema" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);
INSERT INTO "new_Dataset" ("createdAt", "csvPath", "csvSha256", "id", "imageRoot", "importMs", "itemCount", "labelSchemaId", "name", "rejectCount", "splitSeed", "testFraction", "validationFraction") SELECT "createdAt", "csvPath", "csvSha256", "id", "imageRoot", "importMs", "itemCount", "labelSchemaId", "name", "rejectCount", "splitSeed", "testFraction", "validationFraction" FROM "Dataset";
DROP TABLE "Dataset";
ALTER TABLE "new_Dataset" RENAME TO "Dataset";
CREATE UNIQUE INDEX "Dataset_csvSha256_key" ON "Dataset"("csvSha256");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

