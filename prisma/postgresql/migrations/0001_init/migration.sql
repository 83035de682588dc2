-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateTable
CREATE TABLE "LabelSchema" (
    "id" SERIAL NOT NULL,
    "name" TEXT NOT NULL,
    "fingerprint" TEXT NOT NULL,
    "tasks" JSONB NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "LabelSchema_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Dataset" (
    "id" SERIAL NOT NULL,
    "name" TEXT NOT NULL,
    "csvPath" TEXT NOT NULL,
    "imageRoot" TEXT NOT NULL,
    "csvSha256" TEXT NOT NULL,
    "labelSchemaId" INTEGER NOT NULL,
    "splitSeed" INTEGER NOT NULL,
    "validationFraction" DOUBLE PRECISION NOT NULL,
    "testFraction" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "itemCount" INTEGER NOT NULL,
    "rejectCount" INTEGER NOT NULL,
    "importMs" INTEGER NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Dataset_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Item" (
    "id" SERIAL NOT NULL,
    "datasetId" INTEGER NOT NULL,
    "line" INTEGER NOT NULL,
    "imagePath" TEXT NOT NULL,
    "bboxXmin" INTEGER NOT NULL,
    "ymin" INTEGER NOT NULL,
    "bboxXmax" INTEGER NOT NULL,
    "ymax" INTEGER NOT NULL,
    "imageWidth" INTEGER NOT NULL,
    "imageHeight" INTEGER NOT NULL,
    "split" TEXT NOT NULL,

    CONSTRAINT "Item_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ItemLabel" (
    "itemId" INTEGER NOT NULL,
    "datasetId" INTEGER NOT NULL,
    "split" TEXT NOT NULL,
    "task" INTEGER NOT NULL,
    "classIndex" INTEGER NOT NULL,

    CONSTRAINT "ItemLabel_pkey" PRIMARY KEY ("itemId","task")
);

-- CreateTable
CREATE TABLE "ImportReject" (
    "id" SERIAL NOT NULL,
    "datasetId" INTEGER NOT NULL,
    "line" INTEGER NOT NULL,
    "reason" TEXT NOT NULL,
    "row" TEXT NOT NULL,

    CONSTRAINT "ImportReject_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "TrainingRun" (
    "id" SERIAL NOT NULL,
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
    "heartbeatAt" TIMESTAMP(3),
    "checkpointSha256" TEXT,
    "distillation" JSONB,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "startedAt" TIMESTAMP(3),
    "finishedAt" TIMESTAMP(3),

    CONSTRAINT "TrainingRun_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ModelArtifact" (
    "id" SERIAL NOT NULL,
    "name" TEXT NOT NULL,
    "runId" INTEGER,
    "labelSchemaId" INTEGER NOT NULL,
    "onnxPath" TEXT NOT NULL,
    "sha256" TEXT NOT NULL,
    "sizeBytes" INTEGER NOT NULL,
    "parameterCount" INTEGER,
    "modelInfo" JSONB NOT NULL,
    "exportMaxAbsDiff" DOUBLE PRECISION,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ModelArtifact_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Ensemble" (
    "id" SERIAL NOT NULL,
    "name" TEXT NOT NULL,
    "isDefault" BOOLEAN NOT NULL DEFAULT false,
    "labelSchemaId" INTEGER NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "fit" JSONB,
    "logitAdjustment" JSONB,

    CONSTRAINT "Ensemble_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "EnsembleMember" (
    "ensembleId" INTEGER NOT NULL,
    "artifactId" INTEGER NOT NULL,
    "weight" DOUBLE PRECISION NOT NULL,
    "temperatures" JSONB,

    CONSTRAINT "EnsembleMember_pkey" PRIMARY KEY ("ensembleId","artifactId")
);

-- CreateTable
CREATE TABLE "EvaluationReport" (
    "id" SERIAL NOT NULL,
    "datasetId" INTEGER NOT NULL,
    "split" TEXT NOT NULL,
    "runId" INTEGER,
    "artifactId" INTEGER,
    "ensembleId" INTEGER,
    "itemCount" INTEGER NOT NULL,
    "metrics" JSONB NOT NULL,
    "durationMs" INTEGER NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "parentReportId" INTEGER,

    CONSTRAINT "EvaluationReport_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ReportPrediction" (
    "id" SERIAL NOT NULL,
    "reportId" INTEGER NOT NULL,
    "itemId" INTEGER NOT NULL,
    "task" INTEGER NOT NULL,
    "trueClass" INTEGER NOT NULL,
    "predictedClass" INTEGER NOT NULL,
    "confidence" DOUBLE PRECISION NOT NULL,
    "trueProbability" DOUBLE PRECISION NOT NULL,

    CONSTRAINT "ReportPrediction_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ConfusionMatrix" (
    "id" SERIAL NOT NULL,
    "reportId" INTEGER NOT NULL,
    "task" INTEGER NOT NULL,
    "taskName" TEXT NOT NULL,
    "classes" JSONB NOT NULL,
    "rows" JSONB NOT NULL,

    CONSTRAINT "ConfusionMatrix_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ApiToken" (
    "id" SERIAL NOT NULL,
    "name" TEXT NOT NULL,
    "role" TEXT NOT NULL,
    "hash" TEXT NOT NULL,
    "prefix" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastUsedAt" TIMESTAMP(3),
    "revokedAt" TIMESTAMP(3),

    CONSTRAINT "ApiToken_pkey" PRIMARY KEY ("id")
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
CREATE INDEX "ReportPrediction_reportId_task_confidence_idx" ON "ReportPrediction"("reportId", "task", "confidence");

-- CreateIndex
CREATE UNIQUE INDEX "ConfusionMatrix_reportId_task_key" ON "ConfusionMatrix"("reportId", "task");

-- CreateIndex
CREATE UNIQUE INDEX "ApiToken_hash_key" ON "ApiToken"("hash");

-- AddForeignKey
ALTER TABLE "Dataset" ADD CONSTRAINT "Dataset_labelSchemaId_fkey" FOREIGN KEY ("labelSchemaId") REFERENCES "LabelSchema"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Item" ADD CONSTRAINT "Item_datasetId_fkey" FOREIGN KEY ("datasetId") REFERENCES "Dataset"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ItemLabel" ADD CONSTRAINT "ItemLabel_itemId_fkey" FOREIGN KEY ("itemId") REFERENCES "Item"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ImportReject" ADD CONSTRAINT "ImportReject_datasetId_fkey" FOREIGN KEY ("datasetId") REFERENCES "Dataset"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "TrainingRun" ADD CONSTRAINT "TrainingRun_datasetId_fkey" FOREIGN KEY ("datasetId") REFERENCES "Dataset"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ModelArtifact" ADD CONSTRAINT "ModelArtifact_runId_fkey" FOREIGN KEY ("runId") REFERENCES "TrainingRun"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ModelArtifact" ADD CONSTRAINT "ModelArtifact_labelSchemaId_fkey" FOREIGN KEY ("labelSchemaId") REFERENCES "LabelSchema"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Ensemble" ADD CONSTRAINT "Ensemble_labelSchemaId_fkey" FOREIGN KEY ("labelSchemaId") REFERENCES "LabelSchema"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "EnsembleMember" ADD CONSTRAINT "EnsembleMember_ensembleId_fkey" FOREIGN KEY ("ensembleId") REFERENCES "Ensemble"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "EnsembleMember" ADD CONSTRAINT "EnsembleMember_artifactId_fkey" FOREIGN KEY ("artifactId") REFERENCES "ModelArtifact"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "EvaluationReport" ADD CONSTRAINT "EvaluationReport_datasetId_fkey" FOREIGN KEY ("datasetId") REFERENCES "Dataset"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "EvaluationReport" ADD CONSTRAINT "EvaluationReport_runId_fkey" FOREIGN KEY ("runId") REFERENCES "TrainingRun"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "EvaluationReport" ADD CONSTRAINT "EvaluationReport_artifactId_fkey" FOREIGN KEY ("artifactId") REFERENCES "ModelArtifact"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "EvaluationReport" ADD CONSTRAINT "EvaluationReport_ensembleId_fkey" FOREIGN KEY ("ensembleId") REFERENCES "Ensemble"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "EvaluationReport" ADD CONSTRAINT "EvaluationReport_parentReportId_fkey" FOREIGN KEY ("parentReportId") REFERENCES "EvaluationReport"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ReportPrediction" ADD CONSTRAINT "ReportPrediction_reportId_fkey" FOREIGN KEY ("reportId") REFERENCES "EvaluationReport"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ConfusionMatrix" ADD CONSTRAINT "ConfusionMatrix_reportId_fkey" FOREIGN KEY ("reportId") REFERENCES "EvaluationReport"("id") ON DELETE CASCADE ON UPDATE CASCADE;

