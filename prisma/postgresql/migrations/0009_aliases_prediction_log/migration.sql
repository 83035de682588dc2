-- CreateTable
CREATE TABLE "ModelAlias" (
    "id" SERIAL NOT NULL,
    "name" TEXT NOT NULL,
    "targetKind" TEXT NOT NULL,
    "targetId" INTEGER NOT NULL,
    "candidateKind" TEXT,
    "candidateId" INTEGER,
    "mode" TEXT NOT NULL DEFAULT 'NONE',
    "canaryPercent" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "logRate" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "ModelAlias_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "AliasChange" (
    "id" SERIAL NOT NULL,
    "aliasId" INTEGER NOT NULL,
    "actor" TEXT NOT NULL,
    "at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "before" JSONB,
    "after" JSONB NOT NULL,
    "undoes" INTEGER,
    "undoneAt" TIMESTAMP(3),

    CONSTRAINT "AliasChange_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Prediction" (
    "id" TEXT NOT NULL,
    "alias" TEXT,
    "role" TEXT NOT NULL,
    "modelKind" TEXT NOT NULL,
    "modelId" INTEGER NOT NULL,
    "modelName" TEXT NOT NULL,
    "labelSchemaId" INTEGER NOT NULL,
    "client" TEXT NOT NULL,
    "cropSha256" TEXT NOT NULL,
    "cropKey" TEXT,
    "bbox" JSONB NOT NULL,
    "probabilities" JSONB NOT NULL,
    "predicted" JSONB NOT NULL,
    "stats" JSONB NOT NULL,
    "latencyMs" DOUBLE PRECISION NOT NULL,
    "labels" JSONB,
    "labelledAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Prediction_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "DriftReport" (
    "id" SERIAL NOT NULL,
    "alias" TEXT NOT NULL,
    "from" TIMESTAMP(3) NOT NULL,
    "to" TIMESTAMP(3) NOT NULL,
    "count" INTEGER NOT NULL,
    "drifted" BOOLEAN NOT NULL,
    "body" JSONB NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "DriftReport_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "ModelAlias_name_key" ON "ModelAlias"("name");

-- CreateIndex
CREATE INDEX "AliasChange_aliasId_id_idx" ON "AliasChange"("aliasId", "id");

-- CreateIndex
CREATE INDEX "Prediction_alias_createdAt_idx" ON "Prediction"("alias", "createdAt");

-- CreateIndex
CREATE INDEX "Prediction_createdAt_idx" ON "Prediction"("createdAt");

-- CreateIndex
CREATE INDEX "DriftReport_alias_createdAt_idx" ON "DriftReport"("alias", "createdAt");

-- AddForeignKey
ALTER TABLE "AliasChange" ADD CONSTRAINT "AliasChange_aliasId_fkey" FOREIGN KEY ("aliasId") REFERENCES "ModelAlias"("id") ON DELETE CASCADE ON UPDATE CASCADE;

