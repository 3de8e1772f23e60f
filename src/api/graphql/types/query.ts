export const typeDefs = /* GraphQL */ `
  type Query {
    "Clusters, by name."
    clusters(limit: Int = 50, cursor: String): ClusterPage!
    "One cluster, or null when unknown."
    cluster(name: String!): Cluster
  }

  type Mutation {
    """
    Ingest a snapshot (an envelope {proxy, resources}, a bare List, or one object), as an object or as
    text: a string document is read as YAML or JSON, one document or several separated by ---, as the
    REST ingest reads an application/yaml body. proxy: kube-proxy settings for documents that are not
    envelopes. Needs a write token.
    """
    ingestSnapshot(cluster: String!, document: JSON!, proxy: JSON): IngestResult!
  }

  type IngestResult {
    "false: identical to the latest version, nothing stored."
    created: Boolean!
    version: Version!
  }
`
