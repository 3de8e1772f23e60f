/** The store: content-addressed objects and plan segments, snapshots, plans, numbered versions. */
export * from './db.js'
export * from './canonical.js'
export * from './manifest.js'
export * from './content.js'
export * from './snapshots.js'
export * from './plans.js'
export * from './versions.js'
