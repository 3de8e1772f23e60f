// The growth chart, drawn in SVG by the page: one metric over time, a marker per version
// (snapshots, rollbacks and imports in different shapes), UTC date ticks, and the projection of
// GET …/growth/projection — its fitted line from now onwards, the threshold, and the 95 %
// prediction band. The API gives the band as the two times its edges cross the threshold
// (interval.from, interval.to), so the band is drawn as the wedge from the fitted value now to
// those two crossings. Every marker is focusable: hover or keyboard focus shows its values, and
// the arrow keys move between versions.

const NS = 'http://www.w3.org/2000/svg'
const W = 880
const H = 380
const M = { left: 70, right: 24, top: 18, bottom: 56 }
const MIN = 60_000
const HOUR = 60 * MIN
const DAY = 24 * HOUR
const STEPS = [MIN, 5 * MIN, 15 * MIN, 30 * MIN, HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 3 * DAY, 7 * DAY, 14 * DAY, 30 * DAY, 91 * DAY, 365 * DAY]

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(NS, tag)
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) node.setAttribute(k, String(v))
  for (const c of children) node.append(c)
  return node
}

const fmt = (n) => (typeof n === 'number' ? n.toLocaleString('en-US', { maximumFractionDigits: 1 }) : '–')

/** Round steps (1, 2, 5 × 10^k) for the value axis, from 0. */
export function valueTicks(max) {
  if (!(max > 0)) return { top: 1, ticks: [0, 1] }
  const raw = max / 5
  const mag = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)
  const top = Math.ceil(max / step) * step
  const ticks = []
  for (let v = 0; v <= top + step / 2; v += step) ticks.push(v)
  return { top, ticks }
}

/** Time ticks at whole UTC minutes, hours or days, at most nine across the domain, labelled in UTC. */
export function timeTicks(t0, t1) {
  const span = Math.max(t1 - t0, MIN)
  const step = STEPS.find((s) => span / s <= 9) ?? 365 * DAY
  const start = Math.ceil(t0 / step) * step
  const ticks = []
  for (let t = start; t <= t1; t += step) ticks.push(t)
  const label = (t) => {
    const iso = new Date(t).toISOString()
    if (step >= DAY) return [iso.slice(0, 10)]
    // Below a day: the time, and the date under the first tick and under each new day.
    return [iso.slice(11, 16), iso.slice(0, 10)]
  }
  return ticks.map((t, i) => {
    const [top, date] = label(t)
    const newDay = i === 0 || new Date(t).getUTCDate() !== new Date(ticks[i - 1]).getUTCDate()
    return { t, top, sub: date && newDay ? date : '' }
  })
}

function marker(kind, x, y) {
  if (kind === 'rollback') return svg('path', { d: `M${x} ${y - 7} L${x + 7} ${y} L${x} ${y + 7} L${x - 7} ${y} Z` })
  if (kind === 'import') return svg('path', { d: `M${x} ${y - 7} L${x + 7} ${y + 6} L${x - 7} ${y + 6} Z` })
  return svg('circle', { cx: x, cy: y, r: 5 })
}

/**
 * points: [{version, createdAt, values}], kinds: Map version -> kind, metric: {name, unit,
 * description}, projection: the projection API's answer or null. Returns the <svg>.
 */
export function growthChart({ points, kinds, metric, projection, now = Date.now() }) {
  const pts = points
    .map((p) => ({ version: p.version, t: Date.parse(p.createdAt), value: p.values[metric.name], kind: kinds.get(p.version) ?? 'snapshot', createdAt: p.createdAt }))
    .filter((p) => typeof p.value === 'number')
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'group', 'aria-label': `${metric.description || metric.name} per version` })
  if (pts.length === 0) {
    root.append(svg('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'empty' }))
    root.lastChild.textContent = 'No versions to draw.'
    return root
  }
  const last = pts[pts.length - 1]
  let t0 = pts[0].t
  let t1 = Math.max(last.t, now)
  if (t1 - t0 < HOUR) {
    t0 -= HOUR / 2
    t1 += HOUR / 2
  }
  const span = t1 - t0
  // The projection, when the API could fit one: from now, along the slope.
  const p = projection
  const fit = p && typeof p.fitted === 'number' && typeof p.slopePerDay === 'number' ? p : null
  const crossings = [p?.at, p?.interval?.from, p?.interval?.to].filter(Boolean).map((x) => Date.parse(x))
  // Show the crossing when it is near (within twice the history shown); else a quarter more time.
  const near = crossings.filter((c) => c > t1 && c - t1 <= 2 * span)
  const tEnd = fit ? (near.length ? Math.max(...near) + span * 0.05 : t1 + span * 0.25) : t1
  const fittedAt = (t) => fit.fitted + (fit.slopePerDay * (t - now)) / DAY
  const threshold = p && typeof p.threshold === 'number' ? p.threshold : null
  const showThreshold = threshold !== null && (near.length > 0 || threshold <= Math.max(...pts.map((x) => x.value)) * 1.5)
  let vmax = Math.max(...pts.map((x) => x.value))
  if (fit) vmax = Math.max(vmax, fittedAt(tEnd))
  if (showThreshold) vmax = Math.max(vmax, threshold)
  const { top, ticks } = valueTicks(vmax * 1.05)
  const x = (t) => M.left + ((t - t0) / (tEnd - t0)) * (W - M.left - M.right)
  const y = (v) => H - M.bottom - (Math.max(0, v) / top) * (H - M.top - M.bottom)

  // Axes and grid.
  const axes = svg('g', { class: 'axes', 'aria-hidden': 'true' })
  for (const v of ticks) {
    axes.append(svg('line', { x1: M.left, x2: W - M.right, y1: y(v), y2: y(v), class: 'grid' }))
    const label = svg('text', { x: M.left - 8, y: y(v) + 4, 'text-anchor': 'end' })
    label.textContent = fmt(v)
    axes.append(label)
  }
  for (const tick of timeTicks(t0, tEnd)) {
    const tx = x(tick.t)
    axes.append(svg('line', { x1: tx, x2: tx, y1: M.top, y2: H - M.bottom, class: 'grid' }))
    const label = svg('text', { x: tx, y: H - M.bottom + 18, 'text-anchor': 'middle', class: 'time-tick' })
    label.textContent = tick.top
    axes.append(label)
    if (tick.sub) {
      const sub = svg('text', { x: tx, y: H - M.bottom + 34, 'text-anchor': 'middle', class: 'time-date' })
      sub.textContent = tick.sub
      axes.append(sub)
    }
  }
  axes.append(svg('line', { x1: M.left, x2: W - M.right, y1: y(0), y2: y(0), class: 'axis' }))
  axes.append(svg('line', { x1: M.left, x2: M.left, y1: M.top, y2: H - M.bottom, class: 'axis' }))
  const unit = svg('text', { x: 14, y: M.top + (H - M.top - M.bottom) / 2, 'text-anchor': 'middle', transform: `rotate(-90 14 ${M.top + (H - M.top - M.bottom) / 2})` })
  unit.textContent = `${metric.name} (${metric.unit})`
  const utc = svg('text', { x: W - M.right, y: H - 6, 'text-anchor': 'end', class: 'time-date' })
  utc.textContent = 'time (UTC)'
  axes.append(unit, utc)
  root.append(axes)

  const clip = svg('clipPath', { id: 'plot-area' }, svg('rect', { x: M.left, y: M.top, width: W - M.left - M.right, height: H - M.top - M.bottom }))
  root.append(svg('defs', {}, clip))
  const plot = svg('g', { 'clip-path': 'url(#plot-area)' })
  root.append(plot)

  if (fit) {
    const n = Math.max(now, last.t)
    if (p.interval && threshold !== null) {
      const from = Date.parse(p.interval.from)
      const to = p.interval.to ? Date.parse(p.interval.to) : tEnd + span * 10
      plot.append(svg('polygon', { class: 'band', points: `${x(n)},${y(fittedAt(n))} ${x(from)},${y(threshold)} ${x(to)},${y(threshold)}` }))
    }
    plot.append(svg('line', { class: 'projection', x1: x(n), y1: y(fittedAt(n)), x2: x(tEnd), y2: y(fittedAt(tEnd)) }))
  }
  if (showThreshold) {
    plot.append(svg('line', { class: 'threshold', x1: M.left, x2: W - M.right, y1: y(threshold), y2: y(threshold) }))
    const label = svg('text', { x: W - M.right - 4, y: y(threshold) - 6, 'text-anchor': 'end', class: 'threshold-label' })
    label.textContent = `threshold ${fmt(threshold)}`
    plot.append(label)
  }
  plot.append(svg('polyline', { class: 'series', points: pts.map((q) => `${x(q.t)},${y(q.value)}`).join(' ') }))

  // Markers, then the tooltip above them.
  const tip = svg('g', { class: 'tip', visibility: 'hidden', 'aria-hidden': 'true' })
  const tipBox = svg('rect', { rx: 4, width: 210, height: 58 })
  const tipLines = [0, 1, 2].map((i) => svg('text', { x: 8, y: 17 + i * 16 }))
  tip.append(tipBox, ...tipLines)
  const markers = svg('g', { class: 'markers' })
  const show = (q, g) => {
    tipLines[0].textContent = `v${q.version} · ${q.kind}`
    tipLines[1].textContent = new Date(q.t).toISOString().slice(0, 19).replace('T', ' ') + ' UTC'
    tipLines[2].textContent = `${metric.name}: ${fmt(q.value)} ${metric.unit}`
    const tx = Math.min(x(q.t) + 10, W - 214)
    const ty = Math.max(y(q.value) - 68, 2)
    tip.setAttribute('transform', `translate(${tx} ${ty})`)
    tip.setAttribute('visibility', 'visible')
    root.dataset.shown = String(q.version)
    g.classList.add('active')
  }
  const hide = (g) => {
    tip.setAttribute('visibility', 'hidden')
    delete root.dataset.shown
    g.classList.remove('active')
  }
  const groups = pts.map((q, i) => {
    const g = svg(
      'g',
      {
        class: `pt kind-${q.kind}`,
        tabindex: 0,
        role: 'img',
        'data-version': q.version,
        'data-kind': q.kind,
        'aria-label': `version ${q.version}, ${q.kind}, ${q.createdAt}: ${metric.name} ${q.value} ${metric.unit}`,
      },
      marker(q.kind, x(q.t), y(q.value)),
    )
    g.addEventListener('mouseenter', () => show(q, g))
    g.addEventListener('mouseleave', () => hide(g))
    g.addEventListener('focus', () => show(q, g))
    g.addEventListener('blur', () => hide(g))
    g.addEventListener('keydown', (ev) => {
      const next = ev.key === 'ArrowRight' ? i + 1 : ev.key === 'ArrowLeft' ? i - 1 : ev.key === 'Home' ? 0 : ev.key === 'End' ? pts.length - 1 : null
      if (next === null) return
      ev.preventDefault()
      groups[Math.max(0, Math.min(pts.length - 1, next))].focus()
    })
    markers.append(g)
    return g
  })
  root.append(markers, tip)
  return root
}

/** The legend under the chart: marker shapes per version kind, the lines and the band. */
export function legend() {
  const item = (cls, shape, text) => {
    const s = svg('svg', { viewBox: '0 0 24 16', width: 24, height: 16, 'aria-hidden': 'true', class: cls }, shape)
    const li = document.createElement('li')
    li.append(s, ` ${text}`)
    return li
  }
  const ul = document.createElement('ul')
  ul.className = 'legend'
  ul.append(
    item('kind-snapshot', svg('circle', { cx: 12, cy: 8, r: 5 }), 'snapshot'),
    item('kind-rollback', svg('path', { d: 'M12 1 L19 8 L12 15 L5 8 Z' }), 'rollback'),
    item('kind-import', svg('path', { d: 'M12 1 L19 14 L5 14 Z' }), 'import'),
    item('legend-projection', svg('line', { x1: 0, x2: 24, y1: 8, y2: 8 }), 'projection'),
    item('legend-band', svg('rect', { x: 0, y: 3, width: 24, height: 10 }), '95 % band'),
    item('legend-threshold', svg('line', { x1: 0, x2: 24, y1: 8, y2: 8 }), 'threshold'),
  )
  return ul
}
