-- CreateTable
CREATE TABLE "drift_checks" (
    "cluster_id" INTEGER NOT NULL,
    "node" TEXT NOT NULL,
    "family" TEXT NOT NULL,
    "version" INTEGER NOT NULL,
    "checked_at" TIMESTAMPTZ(3) NOT NULL,
    "in_sync" BOOLEAN NOT NULL,
    "summary" JSONB NOT NULL,

    CONSTRAINT "drift_checks_pkey" PRIMARY KEY ("cluster_id","node","family")
);

-- AddForeignKey
ALTER TABLE "drift_checks" ADD CONSTRAINT "drift_checks_cluster_id_fkey" FOREIGN KEY ("cluster_id") REFERENCES "clusters"("id") ON DELETE CASCADE ON UPDATE CASCADE;
