-- AlterTable
ALTER TABLE "segments" ADD COLUMN     "meta" JSONB;
