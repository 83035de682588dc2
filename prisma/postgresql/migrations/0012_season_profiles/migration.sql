-- AlterTable
ALTER TABLE "Dataset" ADD COLUMN     "seasonProfile" TEXT;

-- CreateTable
CREATE TABLE "Submission" (
    "id" SERIAL NOT NULL,
    "datasetId" INTEGER NOT NULL,
    "profileId" TEXT NOT NULL,
    "modelKind" TEXT NOT NULL,
    "modelId" INTEGER NOT NULL,
    "modelName" TEXT NOT NULL,
    "alias" TEXT,
    "rows" INTEGER NOT NULL,
    "tableSha256" TEXT NOT NULL,
    "modelSha256" TEXT,
    "accepted" BOOLEAN NOT NULL,
    "forced" BOOLEAN NOT NULL DEFAULT false,
    "verdict" JSONB NOT NULL,
    "packageCheck" JSONB,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Submission_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "Submission_datasetId_createdAt_idx" ON "Submission"("datasetId", "createdAt");

-- AddForeignKey
ALTER TABLE "Submission" ADD CONSTRAINT "Submission_datasetId_fkey" FOREIGN KEY ("datasetId") REFERENCES "Dataset"("id") ON DELETE CASCADE ON UPDATE CASCADE;
