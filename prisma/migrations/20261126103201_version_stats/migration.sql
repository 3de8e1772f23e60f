-- CreateTable
CREATE TABLE "version_stats" (
    "version_id" BIGINT NOT NULL,
    "cluster_id" INTEGER NOT NULL,
    "number" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "services" INTEGER NOT NULL,
    "service_ports" INTEGER NOT NULL,
    "service_ports_by_type" JSONB NOT NULL,
    "endpoints" INTEGER NOT NULL,
    "endpoints_ready" INTEGER NOT NULL,
    "endpoints_serving" INTEGER NOT NULL,
    "endpoints_terminating" INTEGER NOT NULL,
    "nat_chains" INTEGER NOT NULL,
    "nat_rules" INTEGER NOT NULL,
    "filter_chains" INTEGER NOT NULL,
    "filter_rules" INTEGER NOT NULL,
    "script_bytes" BIGINT NOT NULL,
    "kube_services_rules" INTEGER NOT NULL,
    "avg_rules_to_dnat" DOUBLE PRECISION NOT NULL,
    "worst_rules_to_dnat" INTEGER NOT NULL,
    "services_without_endpoints" INTEGER NOT NULL,
    "delta_rules" INTEGER,
    "delta_bytes" BIGINT,
    "namespaces" JSONB NOT NULL,
    "detail" JSONB NOT NULL,

    CONSTRAINT "version_stats_pkey" PRIMARY KEY ("version_id")
);

-- CreateIndex
CREATE INDEX "version_stats_cluster_id_created_at_idx" ON "version_stats"("cluster_id", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "version_stats_cluster_id_number_key" ON "version_stats"("cluster_id", "number");

-- AddForeignKey
ALTER TABLE "version_stats" ADD CONSTRAINT "version_stats_version_id_fkey" FOREIGN KEY ("version_id") REFERENCES "versions"("id") ON DELETE CASCADE ON UPDATE CASCADE;
