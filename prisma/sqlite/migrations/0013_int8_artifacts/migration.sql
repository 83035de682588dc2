-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_ModelArtifact" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "name" TEXT NOT NULL,
    "runId" INTEGER,
    "labelSchemaId" INTEGER NOT NULL,
    "onnxPath" TEXT NOT NULL,
    "sha256" TEXT NOT NULL,
    "sizeBytes" INTEGER NOT NULL,
    "parameterCount" INTEGER,
    "modelInfo" JSONB NOT NULL,
    "exportMaxAbsDiff" REAL,
    "precision" TEXT NOT NULL DEFAULT 'fp32',
    "parentId" INTEGER,
    "quantization" JSONB,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "ModelArtifact_runId_fkey" FOREIGN KEY ("runId") REFERENCES "TrainingRun" ("id") ON DELETE SET NULL ON UPDATE CASCADE,
    CONSTRAINT "ModelArtifact_labelSchemaId_fkey" FOREIGN KEY ("labelSchemaId") REFERENCES "LabelSchema" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "ModelArtifact_parentId_fkey" FOREIGN KEY ("parentId") REFERENCES "ModelArtifact" ("id") ON DELETE SET NULL ON UPDATE CASCADE
);
INSERT INTO "new_ModelArtifact" ("createdAt", "exportMaxAbsDiff", "id", "labelSchemaId", "modelInfo", "name", "onnxPath", "parameterCount", "runId", "sha256", "sizeBytes") SELECT "createdAt", "exportMaxAbsDiff", "id", "labelSchemaId", "modelInfo", "name", "onnxPath", "parameterCount", "runId", "sha256", "sizeBytes" FROM "ModelArtifact";
DROP TABLE "ModelArtifact";
ALTER TABLE "new_ModelArtifact" RENAME TO "ModelArtifact";
CREATE UNIQUE INDEX "ModelArtifact_runId_key" ON "ModelArtifact"("runId");
CREATE INDEX "ModelArtifact_parentId_idx" ON "ModelArtifact"("parentId");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

