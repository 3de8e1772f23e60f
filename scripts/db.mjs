#!/usr/bin/env node
// Offline replacement for `prisma migrate` (the native schema engine cannot be downloaded on
// our machines: only npm is reachable). It drives Prisma's own schema
// engine compiled to wasm through @prisma/adapter-pg, so it writes the same migration folders,
// migration_lock.toml and _prisma_migrations rows as the real CLI.
//
//   node scripts/db.mjs deploy                 apply pending migrations (prisma migrate deploy)
//   node scripts/db.mjs dev NAME               create + apply a migration from schema.prisma
//   node scripts/db.mjs status                 migration history vs the database
//   node scripts/db.mjs diff [--exit-code] [--from-migrations]
//                                              SQL from the database (or the migrations, replayed
//                                              on a shadow DB) to schema.prisma; --exit-code
//                                              exits 2 when they differ
//
// DATABASE_URL selects the database (default postgresql://postgres@127.0.0.1:5432/postgres).
import { readFileSync, readdirSync, existsSync, mkdirSync, writeFileSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { PrismaPg } from '@prisma/adapter-pg'
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils'
// The package root does `import * from "./schema_engine_bg.wasm"`, which Node 20 cannot load:
// import the JS glue and instantiate the wasm ourselves.
import * as bg from '@prisma/schema-engine-wasm/schema_engine_bg'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const schemaPath = join(root, 'prisma', 'schema.prisma')
const migrationsDir = join(root, 'prisma', 'migrations')
const filters = { externalTables: [], externalEnums: [] }

// Workaround 1: adapter-pg has no mapping for PostgreSQL's internal "char" type (OID 18), which
// the engine's catalog queries return ("Column type 'char' could not be deserialized"). Rewrite
// it to text for pg's parser, remember which columns were "char" (keyed by the rows array, which
// adapter-pg hands back unchanged), and report them to the engine as Character: PostgreSQL 18
// lists NOT NULL constraints (contype 'n') in pg_constraint and the engine then reads
// constraint_type as a char, which a Text value fails ("... as char failed", a panic).
const CHARACTER = 6 // ColumnTypeEnum.Character in @prisma/driver-adapter-utils
const charColumns = new WeakMap()
const originalAddFields = pg.Result.prototype.addFields
pg.Result.prototype.addFields = function addFields(fields) {
  const idx = []
  fields.forEach((f, i) => {
    if (f.dataTypeID === 18) {
      f.dataTypeID = 25
      idx.push(i)
    }
  })
  if (idx.length > 0) charColumns.set(this.rows, idx)
  return originalAddFields.call(this, fields)
}

async function patchQueryRaw(factory) {
  const adapter = await factory.connect()
  // PgQueryable, the base class of both the adapter and its transactions.
  const proto = Object.getPrototypeOf(Object.getPrototypeOf(adapter))
  await adapter.dispose()
  if (proto.queryRaw.natplanPatched) return
  const original = proto.queryRaw
  proto.queryRaw = async function queryRaw(query) {
    const res = await original.call(this, query)
    for (const i of charColumns.get(res.rows) ?? []) res.columnTypes[i] = CHARACTER
    return res
  }
  proto.queryRaw.natplanPatched = true
}

function poolConfig(url, database) {
  // Workaround 2: pg lets connectionString override `database`, so adapter-pg's shadow pool
  // (`{...config, database}`) would silently point at the main database. Pass discrete fields.
  const u = new URL(url)
  return {
    host: decodeURIComponent(u.hostname),
    port: u.port ? Number(u.port) : 5432,
    user: decodeURIComponent(u.username || 'postgres'),
    password: u.password ? decodeURIComponent(u.password) : undefined,
    database: database ?? decodeURIComponent(u.pathname.slice(1) || 'postgres'),
    max: 4,
  }
}

function adapterFactory(url) {
  const factory = new PrismaPg(poolConfig(url))
  // Workaround 3: adapter-pg drops the shadow database before closing the pool connected to it
  // ("is being accessed by other users") and leaks it. Close first, then drop WITH (FORCE).
  factory.connectToShadowDb = async () => {
    const main = await factory.connect()
    const name = `prisma_migrate_shadow_db_${globalThis.crypto.randomUUID()}`
    await main.executeScript(`CREATE DATABASE "${name}"`)
    const shadow = await new PrismaPg(poolConfig(url, name)).connect()
    const disposeShadow = shadow.dispose.bind(shadow)
    shadow.dispose = async () => {
      await disposeShadow()
      await main.executeScript(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
      await main.dispose()
    }
    return shadow
  }
  return bindMigrationAwareSqlAdapterFactory(factory)
}

async function loadEngine(url) {
  const require = createRequire(import.meta.url)
  const wasmPath = join(dirname(require.resolve('@prisma/schema-engine-wasm/schema_engine_bg')), 'schema_engine_bg.wasm')
  const mod = new WebAssembly.Module(readFileSync(wasmPath))
  const inst = new WebAssembly.Instance(mod, { './schema_engine_bg.js': bg })
  bg.__wbg_set_wasm(inst.exports)
  inst.exports.__wbindgen_start()
  globalThis.PRISMA_WASM_PANIC_REGISTRY = { set_message: (m) => console.error(`schema engine panic: ${m}`) }
  const log = (line) => {
    if (process.env.DB_MJS_DEBUG) console.error(line)
  }
  await patchQueryRaw(new PrismaPg(poolConfig(url)))
  return bg.SchemaEngine.new({ datamodels: [[schemaPath, readFileSync(schemaPath, 'utf8')]] }, log, adapterFactory(url))
}

function migrationsList() {
  const lockPath = join(migrationsDir, 'migration_lock.toml')
  const dirs = existsSync(migrationsDir)
    ? readdirSync(migrationsDir)
        .filter((d) => statSync(join(migrationsDir, d)).isDirectory())
        .sort()
    : []
  return {
    baseDir: migrationsDir,
    lockfile: { path: 'migration_lock.toml', content: existsSync(lockPath) ? readFileSync(lockPath, 'utf8') : null },
    shadowDbInitScript: '',
    migrationDirectories: dirs.map((d) => {
      const file = join(migrationsDir, d, 'migration.sql')
      return {
        path: d,
        migrationFile: {
          path: 'migration.sql',
          content: existsSync(file) ? { tag: 'ok', value: readFileSync(file, 'utf8') } : { tag: 'error', value: 'missing migration.sql' },
        },
      }
    }),
  }
}

const schemaContainer = () => ({ files: [{ path: schemaPath, content: readFileSync(schemaPath, 'utf8') }] })

async function deploy(engine) {
  const { appliedMigrationNames } = await engine.applyMigrations({ migrationsList: migrationsList(), filters })
  console.log(appliedMigrationNames.length ? `applied: ${appliedMigrationNames.join(', ')}` : 'no pending migrations')
  return 0
}

async function dev(engine, name) {
  if (!name) throw new Error('usage: node scripts/db.mjs dev NAME')
  await engine.applyMigrations({ migrationsList: migrationsList(), filters })
  // devDiagnostic replays the history on a shadow database and primes the engine's cache;
  // createMigration fails without it.
  const diag = await engine.devDiagnostic({ migrationsList: migrationsList(), filters })
  if (diag.action.tag === 'reset') throw new Error(`the database needs a reset: ${diag.action.reason}`)
  const out = await engine.createMigration({
    draft: false,
    migrationName: name,
    migrationsList: migrationsList(),
    schema: schemaContainer(),
    filters,
  })
  if (!out.migrationScript) {
    console.log('already in sync: no migration created')
    return 0
  }
  const dir = join(migrationsDir, out.generatedMigrationName)
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, `migration.${out.extension}`), out.migrationScript)
  writeFileSync(
    join(migrationsDir, 'migration_lock.toml'),
    '# Please do not edit this file manually\n# It should be added in your version-control system (e.g., Git)\nprovider = "postgresql"\n',
  )
  await engine.applyMigrations({ migrationsList: migrationsList(), filters })
  console.log(`created and applied ${out.generatedMigrationName}`)
  return 0
}

async function status(engine) {
  const out = await engine.diagnoseMigrationHistory({ migrationsList: migrationsList(), optInToShadowDatabase: false, filters })
  console.log(JSON.stringify(out, null, 2))
  const clean = out.history === null && out.failedMigrationNames.length === 0 && out.editedMigrationNames.length === 0
  return clean ? 0 : 1
}

async function diff(engine, args) {
  const from = args.includes('--from-migrations')
    ? { tag: 'migrations', ...migrationsList() }
    : { tag: 'schemaDatasource', ...schemaContainer(), configDir: root }
  const out = await engine.diff({
    from,
    to: { tag: 'schemaDatamodel', ...schemaContainer() },
    script: true,
    exitCode: args.includes('--exit-code'),
    filters,
  })
  if (out.stdout) process.stdout.write(out.stdout)
  return out.exitCode
}

async function main() {
  const [cmd, ...args] = process.argv.slice(2)
  const url = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres'
  const engine = await loadEngine(url)
  switch (cmd) {
    case 'deploy':
      return deploy(engine)
    case 'dev':
      return dev(engine, args[0])
    case 'status':
      return status(engine)
    case 'diff':
      return diff(engine, args)
    default:
      console.error('usage: node scripts/db.mjs deploy | dev NAME | status | diff [--exit-code] [--from-migrations]')
      return 64
  }
}

main().then(
  // The engine keeps its pg pool open; exit explicitly rather than wait for idle timeouts.
  (code) => process.exit(code),
  (err) => {
    console.error(err?.message ?? err)
    process.exit(1)
  },
)
