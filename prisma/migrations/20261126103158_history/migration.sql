-- CreateTable
CREATE TABLE "history_events" (
    "id" BIGSERIAL NOT NULL,
    "cluster_id" INTEGER NOT NULL,
    "type" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "actor" TEXT NOT NULL,
    "reason" TEXT,
    "version" INTEGER,
    "from_version" INTEGER,
    "to_version" INTEGER,
    "backup_id" UUID,
    "details" JSONB NOT NULL DEFAULT '{}',

    CONSTRAINT "history_events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "backups" (
    "id" UUID NOT NULL,
    "cluster" TEXT NOT NULL,
    "from_version" INTEGER NOT NULL,
    "to_version" INTEGER NOT NULL,
    "versions" INTEGER NOT NULL,
    "note" TEXT,
    "actor" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "sha256" BYTEA NOT NULL,
    "bytes" INTEGER NOT NULL,
    "manifest" JSONB NOT NULL,

    CONSTRAINT "backups_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "backup_chunks" (
    "backup_id" UUID NOT NULL,
    "seq" INTEGER NOT NULL,
    "data" BYTEA NOT NULL,

    CONSTRAINT "backup_chunks_pkey" PRIMARY KEY ("backup_id","seq")
);

-- CreateIndex
CREATE INDEX "history_events_cluster_id_id_idx" ON "history_events"("cluster_id", "id");

-- CreateIndex
CREATE INDEX "history_events_cluster_id_type_id_idx" ON "history_events"("cluster_id", "type", "id");

-- CreateIndex
CREATE INDEX "backups_cluster_created_at_idx" ON "backups"("cluster", "created_at");

-- AddForeignKey
ALTER TABLE "backup_chunks" ADD CONSTRAINT "backup_chunks_backup_id_fkey" FOREIGN KEY ("backup_id") REFERENCES "backups"("id") ON DELETE CASCADE ON UPDATE CASCADE;
