-- CreateTable
CREATE TABLE "LabelSchema" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "name" TEXT NOT NULL,
    "fingerprint" TEXT NOT NULL,
    "tasks" JSONB NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- CreateTable
CREATE TABLE "Dataset" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "name" TEXT NOT NULL,
    "csvPath" TEXT NOT NULL,
    "imageRoot" TEXT NOT NULL,
    "csvSha256" TEXT NOT NULL,
    "labelSchemaId" INTEGER NOT NULL,
    "splitSeed" INTEGER NOT NULL,
    "validationFraction" REAL NOT NULL,
    "itemCount" INTEGER NOT NULL,
    "rejectCount" INTEGER NOT NULL,
    "importMs" INTEGER NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "Dataset_labelSchemaId_fkey" FOREIGN KEY ("labelSchemaId") REFERENCES "LabelSchema" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "Item" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "datasetId" INTEGER NOT NULL,
    "line" INTEGER NOT NULL,
    "imagePath" TEXT NOT NULL,
    "xmin" INTEGER NOT NULL,
    "ymin" INTEGER NOT NULL,
    "xmax" INTEGER NOT NULL,
    "ymax" INTEGER NOT NULL,
    "imageWidth" INTEGER NOT NULL,
    "imageHeight" INTEGER NOT NULL,
    "split" TEXT NOT NULL,
    CONSTRAINT "Item_datasetId_fkey" FOREIGN KEY ("datasetId") REFERENCES "Dataset" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "ItemLabel" (
    "itemId" INTEGER NOT NULL,
    "datasetId" INTEGER NOT NULL,
    "split" TEXT NOT NULL,
    "task" INTEGER NOT NULL,
    "classIndex" INTEGER NOT NULL,

    PRIMARY KEY ("itemId", "task"),
    CONSTRAINT "ItemLabel_itemId_fkey" FOREIGN KEY ("itemId") REFERENCES "Item" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "ImportReject" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "datasetId" INTEGER NOT NULL,
    "line" INTEGER NOT NULL,
    "reason" TEXT NOT NULL,
    "row" TEXT NOT NULL,
    CONSTRAINT "ImportReject_datasetId_fkey" FOREIGN KEY ("datasetId") REFERENCES "Dataset" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "TrainingRun" (
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
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "startedAt" DATETIME,
    "finishedAt" DATETIME,
    CONSTRAINT "TrainingRun_datasetId_fkey" FOREIGN KEY ("datasetId") REFERENCES "Dataset" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "ModelArtifact" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "name" TEXT NOT NULL,
    "runId" INTEGER,
    "labelSchemaId" INTEGER NOT NULL,
    "onnxPath" TEXT NOT NULL,
    "sha256" TEXT NOT NULL,
    "sizeBytes" INTEGER NOT NULL,
    "parameterCount" INTEGER,
    "modelInfo" JSONB NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "ModelArtifact_runId_fkey" FOREIGN KEY ("runId") REFERENCES "TrainingRun" ("id") ON DELETE SET NULL ON UPDATE CASCADE,
    CONSTRAINT "ModelArtifact_labelSchemaId_fkey" FOREIGN KEY ("labelSchemaId") REFERENCES "LabelSchema" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "Ensemble" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "name" TEXT NOT NULL,
    "isDefault" BOOLEAN NOT NULL DEFAULT false,
    "labelSchemaId" INTEGER NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "Ensemble_labelSchemaId_fkey" FOREIGN KEY ("labelSchemaId") REFERENCES "LabelSchema" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "EnsembleMember" (
    "ensembleId" INTEGER NOT NULL,
    "artifactId" INTEGER NOT NULL,
    "weight" REAL NOT NULL,

    PRIMARY KEY ("ensembleId", "artifactId"),
    CONSTRAINT "EnsembleMember_ensembleId_fkey" FOREIGN KEY ("ensembleId") REFERENCES "Ensemble" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "EnsembleMember_artifactId_fkey" FOREIGN KEY ("artifactId") REFERENCES "ModelArtifact" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "EvaluationReport" (
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
    CONSTRAINT "EvaluationReport_datasetId_fkey" FOREIGN KEY ("datasetId") REFERENCES "Dataset" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "EvaluationReport_runId_fkey" FOREIGN KEY ("runId") REFERENCES "TrainingRun" ("id") ON DELETE SET NULL ON UPDATE CASCADE,
    CONSTRAINT "EvaluationReport_artifactId_fkey" FOREIGN KEY ("artifactId") REFERENCES "ModelArtifact" ("id") ON DELETE SET NULL ON UPDATE CASCADE,
    CONSTRAINT "EvaluationReport_ensembleId_fkey" FOREIGN KEY ("ensembleId") REFERENCES "Ensemble" ("id") ON DELETE SET NULL ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "ConfusionMatrix" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "reportId" INTEGER NOT NULL,
    "task" INTEGER NOT NULL,
    "taskName" TEXT NOT NULL,
    "classes" JSONB NOT NULL,
    "rows" JSONB NOT NULL,
    CONSTRAINT "ConfusionMatrix_reportId_fkey" FOREIGN KEY ("reportId") REFERENCES "EvaluationReport" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateIndex
CREATE UNIQUE INDEX "LabelSchema_fingerprint_key" ON "LabelSchema"("fingerprint");

-- CreateIndex
CREATE UNIQUE INDEX "Dataset_csvSha256_key" ON "Dataset"("csvSha256");

-- CreateIndex
CREATE INDEX "Item_datasetId_split_idx" ON "Item"("datasetId", "split");

-- CreateIndex
CREATE INDEX "ItemLabel_datasetId_task_classIndex_idx" ON "ItemLabel"("datasetId", "task", "classIndex");

-- CreateIndex
CREATE INDEX "TrainingRun_status_idx" ON "TrainingRun"("status");

-- CreateIndex
CREATE UNIQUE INDEX "ModelArtifact_runId_key" ON "ModelArtifact"("runId");

-- CreateIndex
CREATE UNIQUE INDEX "Ensemble_name_key" ON "Ensemble"("name");

-- CreateIndex
CREATE UNIQUE INDEX "ConfusionMatrix_reportId_task_key" ON "ConfusionMatrix"("reportId", "task");

