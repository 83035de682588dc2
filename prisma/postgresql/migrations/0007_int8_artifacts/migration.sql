-- AlterTable
ALTER TABLE "ModelArtifact" ADD COLUMN     "parentId" INTEGER,
ADD COLUMN     "precision" TEXT NOT NULL DEFAULT 'fp32',
ADD COLUMN     "quantization" JSONB;

-- CreateIndex
CREATE INDEX "ModelArtifact_parentId_idx" ON "ModelArtifact"("parentId");

-- AddForeignKey
ALTER TABLE "ModelArtifact" ADD CONSTRAINT "ModelArtifact_parentId_fkey" FOREIGN KEY ("parentId") REFERENCES "ModelArtifact"("id") ON DELETE SET NULL ON UPDATE CASCADE;

