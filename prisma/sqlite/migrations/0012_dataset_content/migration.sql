-- DropIndex
DROP INDEX "Dataset_csvSha256_key";

-- AlterTable
ALTER TABLE "Dataset" ADD COLUMN "contentSha256" TEXT;

-- AlterTable
ALTER TABLE "Item" ADD COLUMN "imageSha256" TEXT;

-- CreateIndex
CREATE INDEX "Dataset_csvSha256_idx" ON "Dataset"("csvSha256");

-- CreateIndex
CREATE INDEX "Dataset_contentSha256_idx" ON "Dataset"("contentSha256");

-- CreateIndex
CREATE INDEX "Dataset_name_version_idx" ON "Dataset"("name", "version");

