import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import http from 'node:http'
const srv = http.createServer((q, r) => r.end('hi')).listen(0, '127.0.0.1', async () => {
  const u = `http://127.0.0.1:${srv.address().port}/`
  try { const r = await promisify(execFile)('curl', ['-sS', '--compressed', '-D', '/tmp/h.txt', '-o', '/tmp/b.txt', u], { encoding: 'buffer' }); console.log(r.stdout.toString(), r.stderr.toString()) } catch (e) { console.log('ERR', e.code, e.signal, String(e.stderr)) }
  srv.close()
})
