export const typeDefs = /* GraphQL */ `
  "Arbitrary JSON: a snapshot document or proxy settings."
  scalar JSON
`
