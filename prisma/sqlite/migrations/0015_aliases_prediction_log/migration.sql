-- CreateTable
CREATE TABLE "ModelAlias" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "name" TEXT NOT NULL,
    "targetKind" TEXT NOT NULL,
    "targetId" INTEGER NOT NULL,
    "candidateKind" TEXT,
    "candidateId" INTEGER,
    "mode" TEXT NOT NULL DEFAULT 'NONE',
    "canaryPercent" REAL NOT NULL DEFAULT 0,
    "logRate" REAL NOT NULL DEFAULT 0,
    "updatedAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "AliasChange" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "aliasId" INTEGER NOT NULL,
    "actor" TEXT NOT NULL,
    "at" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "before" JSONB,
    "after" JSONB NOT NULL,
    "undoes" INTEGER,
    "undoneAt" DATETIME,
    CONSTRAINT "AliasChange_aliasId_fkey" FOREIGN KEY ("aliasId") REFERENCES "ModelAlias" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "Prediction" (
    "id" TEXT NOT NULL PRIMARY KEY,
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
    "latencyMs" REAL NOT NULL,
    "labels" JSONB,
    "labelledAt" DATETIME,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- CreateTable
CREATE TABLE "DriftReport" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "alias" TEXT NOT NULL,
    "from" DATETIME NOT NULL,
    "to" DATETIME NOT NULL,
    "count" INTEGER NOT NULL,
    "drifted" BOOLEAN NOT NULL,
    "body" JSONB NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
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

