import { ScriptCache } from '../src/services/script-cache.ts'
const c = new ScriptCache(1000)
const a = await c.getOrCreate('k', async () => Buffer.from('hello'))
console.log(a.toString(), c.size)
const b = await c.getOrCreate('big', async () => Buffer.alloc(5000))
console.log(b.length, c.size)
const g = await c.encoded('k', a, 'gzip')
console.log(g.length, c.size)
