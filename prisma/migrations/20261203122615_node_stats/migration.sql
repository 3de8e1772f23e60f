-- CreateTable
CREATE TABLE "node_stats" (
    "version_id" BIGINT NOT NULL,
    "cluster_id" INTEGER NOT NULL,
    "number" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "node" TEXT NOT NULL,
    "variant" INTEGER NOT NULL,
    "nat_chains" INTEGER NOT NULL,
    "nat_rules" INTEGER NOT NULL,
    "filter_chains" INTEGER NOT NULL,
    "filter_rules" INTEGER NOT NULL,
    "kube_services_rules" INTEGER NOT NULL,
    "script_bytes" BIGINT NOT NULL,

    CONSTRAINT "node_stats_pkey" PRIMARY KEY ("version_id","node")
);

-- CreateIndex
CREATE INDEX "node_stats_cluster_id_node_number_idx" ON "node_stats"("cluster_id", "node", "number");

-- AddForeignKey
ALTER TABLE "node_stats" ADD CONSTRAINT "node_stats_version_id_fkey" FOREIGN KEY ("version_id") REFERENCES "versions"("id") ON DELETE CASCADE ON UPDATE CASCADE;
