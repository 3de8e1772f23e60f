export const typeDefs = /* GraphQL */ `
  type Cluster {
    name: String!
    createdAt: String!
    latestVersion: Int
    versionCount: Int!
    "The newest version (batched across clusters by a loader)."
    latest: Version
    "Versions, newest first."
    versions(limit: Int = 50, cursor: String): VersionPage!
    "A version number or 'latest'; null when there is no such version."
    version(ref: String!): Version
  }

  type ClusterPage {
    items: [Cluster!]!
    next: String
  }
`
