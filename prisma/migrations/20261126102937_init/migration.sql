-- CreateEnum
CREATE TYPE "VersionKind" AS ENUM ('snapshot', 'rollback', 'import');

-- CreateTable
CREATE TABLE "clusters" (
    "id" SERIAL NOT NULL,
    "name" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_version" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "clusters_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "objects" (
    "id" BIGSERIAL NOT NULL,
    "sha256" BYTEA NOT NULL,
    "body" TEXT NOT NULL,

    CONSTRAINT "objects_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "snapshots" (
    "id" BIGSERIAL NOT NULL,
    "sha256" BYTEA NOT NULL,
    "proxy" JSONB NOT NULL,
    "manifest" BYTEA NOT NULL,
    "object_count" INTEGER NOT NULL,

    CONSTRAINT "snapshots_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "segments" (
    "id" BIGSERIAL NOT NULL,
    "sha256" BYTEA NOT NULL,
    "key" TEXT NOT NULL,
    "service" TEXT,
    "protocol" TEXT,
    "filter_chains" TEXT NOT NULL,
    "filter_rules" TEXT NOT NULL,
    "nat_chains" TEXT NOT NULL,
    "nat_rules" TEXT NOT NULL,

    CONSTRAINT "segments_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "plans" (
    "id" BIGSERIAL NOT NULL,
    "sha256" BYTEA NOT NULL,
    "layout" JSONB NOT NULL,
    "manifest" BYTEA NOT NULL,
    "warnings" JSONB NOT NULL,
    "counts" JSONB NOT NULL,

    CONSTRAINT "plans_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "versions" (
    "id" BIGSERIAL NOT NULL,
    "cluster_id" INTEGER NOT NULL,
    "number" INTEGER NOT NULL,
    "kind" "VersionKind" NOT NULL,
    "actor" TEXT NOT NULL,
    "reason" TEXT,
    "source_version" INTEGER,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "snapshot_id" BIGINT NOT NULL,
    "plan_id" BIGINT NOT NULL,
    "counts" JSONB NOT NULL,

    CONSTRAINT "versions_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "clusters_name_key" ON "clusters"("name");

-- CreateIndex
CREATE UNIQUE INDEX "objects_sha256_key" ON "objects"("sha256");

-- CreateIndex
CREATE UNIQUE INDEX "snapshots_sha256_key" ON "snapshots"("sha256");

-- CreateIndex
CREATE UNIQUE INDEX "segments_sha256_key" ON "segments"("sha256");

-- CreateIndex
CREATE UNIQUE INDEX "plans_sha256_key" ON "plans"("sha256");

-- CreateIndex
CREATE INDEX "versions_snapshot_id_idx" ON "versions"("snapshot_id");

-- CreateIndex
CREATE INDEX "versions_plan_id_idx" ON "versions"("plan_id");

-- CreateIndex
CREATE UNIQUE INDEX "versions_cluster_id_number_key" ON "versions"("cluster_id", "number");

-- AddForeignKey
ALTER TABLE "versions" ADD CONSTRAINT "versions_cluster_id_fkey" FOREIGN KEY ("cluster_id") REFERENCES "clusters"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "versions" ADD CONSTRAINT "versions_snapshot_id_fkey" FOREIGN KEY ("snapshot_id") REFERENCES "snapshots"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "versions" ADD CONSTRAINT "versions_plan_id_fkey" FOREIGN KEY ("plan_id") REFERENCES "plans"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
