// Placeholder: replaced by the database setup (fresh database per run, migrations applied).
export default async function setup(): Promise<void> {}
