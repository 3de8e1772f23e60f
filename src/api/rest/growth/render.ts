/**
 * Growth as CSV and as an SVG line chart. Hand-rolled SVG text (no chart library): the chart is
 * a few polylines, axes and labels, and the text stays stable for tests and caches.
 */
import type { GrowthReport } from '../../../services/growth.js'

/** RFC 4180: quote a field when it holds a comma, quote or line break. */
function csvField(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v
}

export function growthCsv(report: GrowthReport): string {
  const names = report.metrics.map((m) => m.name)
  const lines = [['version', 'created_at', ...names].map(csvField).join(',')]
  for (const p of report.points) {
    lines.push(
      [String(p.version), p.createdAt, ...names.map((n) => (p.values[n] === null || p.values[n] === undefined ? '' : String(p.values[n])))]
        .map(csvField)
        .join(','),
    )
  }
  return lines.join('\r\n') + '\r\n'
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

/** 1, 2, 5 × 10^k steps so that about `target` ticks cover [0, max]. */
export function niceTicks(max: number, target = 5): number[] {
  if (!(max > 0)) return [0, 1]
  const raw = max / target
  const mag = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!
  const ticks: number[] = []
  for (let v = 0; v <= max + step * 1e-9; v += step) ticks.push(Math.round(v * 1e6) / 1e6)
  if (ticks[ticks.length - 1]! < max) ticks.push(ticks[ticks.length - 1]! + step)
  return ticks
}

function compact(n: number): string {
  if (Math.abs(n) >= 1e6) return `${+(n / 1e6).toFixed(1)}M`
  if (Math.abs(n) >= 1e3) return `${+(n / 1e3).toFixed(1)}k`
  return String(+n.toFixed(2))
}

const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f']

export interface SvgOptions {
  width?: number
  height?: number
  title?: string
}

/**
 * One line per metric over time (x: version creation time; versions at the same instant are
 * spread by version number so none hide), one shared y axis from zero.
 */
export function growthSvg(report: GrowthReport, opts: SvgOptions = {}): string {
  const width = opts.width ?? 800
  const height = opts.height ?? 360
  const m = { left: 64, right: 16, top: 40, bottom: 48 }
  const plotW = width - m.left - m.right
  const plotH = height - m.top - m.bottom
  const title = opts.title ?? `${report.cluster}: ${report.metrics.map((x) => x.name).join(', ')}`
  const pts = report.points
  const times = pts.map((p) => Date.parse(p.createdAt))
  const t0 = Math.min(...times)
  const t1 = Math.max(...times)
  const byTime = t1 > t0
  const v0 = pts[0]?.version ?? 0
  const v1 = pts[pts.length - 1]?.version ?? 1
  const xOf = (i: number) =>
    m.left + (pts.length < 2 ? plotW / 2 : byTime ? ((times[i]! - t0) / (t1 - t0)) * plotW : ((pts[i]!.version - v0) / Math.max(1, v1 - v0)) * plotW)
  let maxY = 0
  for (const p of pts) for (const x of report.metrics) maxY = Math.max(maxY, p.values[x.name] ?? 0)
  const ticks = niceTicks(maxY)
  const top = ticks[ticks.length - 1]!
  const yOf = (v: number) => m.top + plotH - (v / top) * plotH
  const out: string[] = []
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-labelledby="t">`,
    `<title id="t">${esc(title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${m.left}" y="20" font-family="sans-serif" font-size="14" font-weight="bold">${esc(title)}</text>`,
  )
  for (const t of ticks) {
    const y = yOf(t).toFixed(1)
    out.push(
      `<line x1="${m.left}" y1="${y}" x2="${width - m.right}" y2="${y}" stroke="#e5e5e5"/>`,
      `<text x="${m.left - 6}" y="${y}" font-family="sans-serif" font-size="11" text-anchor="end" dominant-baseline="middle">${compact(t)}</text>`,
    )
  }
  out.push(
    `<line x1="${m.left}" y1="${m.top + plotH}" x2="${width - m.right}" y2="${m.top + plotH}" stroke="#333"/>`,
    `<line x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${m.top + plotH}" stroke="#333"/>`,
  )
  if (pts.length === 0) {
    out.push(
      `<text x="${m.left + plotW / 2}" y="${m.top + plotH / 2}" font-family="sans-serif" font-size="13" text-anchor="middle">no versions in this range</text>`,
    )
  } else {
    const first = pts[0]!
    const last = pts[pts.length - 1]!
    const label = (p: (typeof pts)[number]) => (byTime ? p.createdAt.slice(0, 16).replace('T', ' ') : `v${p.version}`)
    out.push(
      `<text x="${m.left}" y="${height - 28}" font-family="sans-serif" font-size="11">${esc(label(first))} (v${first.version})</text>`,
      `<text x="${width - m.right}" y="${height - 28}" font-family="sans-serif" font-size="11" text-anchor="end">${esc(label(last))} (v${last.version})</text>`,
    )
  }
  report.metrics.forEach((metric, k) => {
    const colour = COLOURS[k % COLOURS.length]!
    const coords = pts.flatMap((p, i) => {
      const v = p.values[metric.name]
      return v === null || v === undefined ? [] : [`${xOf(i).toFixed(1)},${yOf(v).toFixed(1)}`]
    })
    if (coords.length === 1) out.push(`<circle cx="${coords[0]!.split(',')[0]}" cy="${coords[0]!.split(',')[1]}" r="3" fill="${colour}"/>`)
    else if (coords.length > 1)
      out.push(`<polyline class="series" data-metric="${esc(metric.name)}" fill="none" stroke="${colour}" stroke-width="2" points="${coords.join(' ')}"/>`)
    const lx = m.left + k * 150
    out.push(
      `<rect x="${lx}" y="${height - 16}" width="12" height="4" fill="${colour}"/>`,
      `<text x="${lx + 16}" y="${height - 11}" font-family="sans-serif" font-size="11" dominant-baseline="middle">${esc(metric.name)}</text>`,
    )
  })
  out.push('</svg>')
  return out.join('\n') + '\n'
}
