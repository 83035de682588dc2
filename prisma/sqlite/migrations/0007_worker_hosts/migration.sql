-- Worker hosts: who runs a run from the PostgreSQL job queue, its heartbeat, its checkpoint in the store.
ALTER TABLE "TrainingRun" ADD COLUMN "checkpointSha256" TEXT;
ALTER TABLE "TrainingRun" ADD COLUMN "heartbeatAt" DATETIME;
ALTER TABLE "TrainingRun" ADD COLUMN "workerId" TEXT;

-- xmin and xmax are system columns in PostgreSQL; both databases name the bbox columns alike.
-- (Written by hand: prisma migrate diff would drop and re-add the columns, losing every bbox.)
ALTER TABLE "Item" RENAME COLUMN "xmin" TO "bboxXmin";
ALTER TABLE "Item" RENAME COLUMN "xmax" TO "bboxXmax";
