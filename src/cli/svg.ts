/**
 * A tiny SVG writer for the figures of `probe reproduce`: line charts (series, point markers, shaded
 * x-bands, legend) and grids of images given as data URIs. Strings in, a standalone SVG document out;
 * no dependencies, deterministic output.
 */

export interface Series {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
  readonly color?: string;
  readonly dashed?: boolean;
}

/** A single labelled point drawn as a hollow diamond (e.g. a paper's number at one ε). */
export interface Marker {
  readonly label: string;
  readonly x: number;
  readonly y: number;
  readonly color?: string;
}

/** A shaded vertical band from x = from to x = to (e.g. where the correct class wins). */
export interface Band {
  readonly from: number;
  readonly to: number;
  readonly label?: string;
  readonly color?: string;
}

export interface LineChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  readonly markers?: readonly Marker[];
  readonly bands?: readonly Band[];
  readonly width?: number;
  readonly height?: number;
  readonly xDomain?: readonly [number, number];
  readonly yDomain?: readonly [number, number];
  readonly xFormat?: (v: number) => string;
  readonly yFormat?: (v: number) => string;
}

/** Ten distinguishable colours (Tableau 10), used in order when a series names none. */
export const PALETTE: readonly string[] = [
  '#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac',
];

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** Coordinates with at most 2 decimals (small files, stable output). */
const r2 = (v: number): string => String(Math.round(v * 100) / 100);

/** About `count` round tick values covering [lo, hi] (steps of 1, 2 or 5 × 10^k). */
export function niceTicks(lo: number, hi: number, count = 6): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (hi <= lo) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) out.push(Math.round(v / step) * step);
  return out.map((v) => Number(v.toPrecision(12)));
}

function extent(values: readonly number[]): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) if (Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  if (lo === Infinity) return [0, 1];
  if (lo === hi) return [lo - 1, hi + 1];
  return [lo, hi];
}

const svgOpen = (w: number, h: number, title: string): string =>
  `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="sans-serif" font-size="12">\n` +
  `<title>${escapeXml(title)}</title>\n<rect width="${w}" height="${h}" fill="#ffffff"/>\n`;

/**
 * A line chart: one `<path class="series" data-series="name">` per series (non-finite points break
 * the line), optional markers (`class="marker"`), shaded x-bands (`class="band"`) and a legend.
 */
export function lineChart(o: LineChartOptions): string {
  const labels = [...o.series.map((s) => s.name), ...(o.markers ?? []).map((k) => k.label), ...(o.bands ?? []).map((b) => b.label ?? '')];
  const legendW = Math.min(300, Math.max(120, 40 + 7 * Math.max(0, ...labels.map((l) => l.length))));
  const W = o.width ?? 560 + legendW;
  const H = o.height ?? 420;
  const m = { left: 64, right: legendW + 16, top: 36, bottom: 48 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const xs = o.series.flatMap((s) => s.points.map((p) => p[0])).concat((o.markers ?? []).map((k) => k.x));
  const ys = o.series.flatMap((s) => s.points.map((p) => p[1])).concat((o.markers ?? []).map((k) => k.y));
  const [x0, x1] = o.xDomain ?? extent(xs);
  const [y0, y1] = o.yDomain ?? extent(ys);
  const X = (v: number): number => m.left + ((v - x0) / (x1 - x0 || 1)) * pw;
  const Y = (v: number): number => m.top + ph - ((v - y0) / (y1 - y0 || 1)) * ph;
  const fx = o.xFormat ?? ((v: number) => String(v));
  const fy = o.yFormat ?? ((v: number) => String(v));
  const parts: string[] = [svgOpen(W, H, o.title)];
  parts.push(`<text x="${W / 2 - legendW / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(o.title)}</text>\n`);
  for (const b of o.bands ?? []) {
    const a = X(Math.max(b.from, x0));
    const z = X(Math.min(b.to, x1));
    parts.push(`<rect class="band" x="${r2(a)}" y="${m.top}" width="${r2(Math.max(z - a, 1))}" height="${ph}" fill="${b.color ?? '#fff3b0'}" fill-opacity="0.7"/>\n`);
  }
  // Axes, grid and ticks.
  parts.push(`<g stroke="#dddddd">\n`);
  const xt = niceTicks(x0, x1, 8);
  const yt = niceTicks(y0, y1, 6);
  for (const t of xt) parts.push(`<line x1="${r2(X(t))}" y1="${m.top}" x2="${r2(X(t))}" y2="${m.top + ph}"/>\n`);
  for (const t of yt) parts.push(`<line x1="${m.left}" y1="${r2(Y(t))}" x2="${m.left + pw}" y2="${r2(Y(t))}"/>\n`);
  parts.push(`</g>\n<g fill="#333333">\n`);
  for (const t of xt) parts.push(`<text x="${r2(X(t))}" y="${m.top + ph + 16}" text-anchor="middle">${escapeXml(fx(t))}</text>\n`);
  for (const t of yt) parts.push(`<text x="${m.left - 6}" y="${r2(Y(t) + 4)}" text-anchor="end">${escapeXml(fy(t))}</text>\n`);
  parts.push(`<text x="${m.left + pw / 2}" y="${H - 10}" text-anchor="middle">${escapeXml(o.xLabel)}</text>\n`);
  parts.push(`<text transform="translate(16 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">${escapeXml(o.yLabel)}</text>\n`);
  parts.push(`</g>\n<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#666666"/>\n`);
  if (y0 < 0 && y1 > 0) parts.push(`<line x1="${m.left}" y1="${r2(Y(0))}" x2="${m.left + pw}" y2="${r2(Y(0))}" stroke="#999999"/>\n`);
  // Series.
  o.series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length];
    let d = '';
    let pen = false;
    for (const [x, y] of s.points) {
      if (!Number.isFinite(x) || !Number.isFinite(y)) { pen = false; continue; }
      d += `${pen ? 'L' : 'M'}${r2(X(x))} ${r2(Y(y))}`;
      pen = true;
    }
    parts.push(`<path class="series" data-series="${escapeXml(s.name)}" d="${d}" fill="none" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>\n`);
  });
  for (const k of o.markers ?? []) {
    const cx = X(k.x);
    const cy = Y(k.y);
    parts.push(`<path class="marker" data-marker="${escapeXml(k.label)}" d="M${r2(cx)} ${r2(cy - 6)}L${r2(cx + 6)} ${r2(cy)}L${r2(cx)} ${r2(cy + 6)}L${r2(cx - 6)} ${r2(cy)}Z" fill="#ffffff" stroke="${k.color ?? '#000000'}" stroke-width="2"/>\n`);
  }
  // Legend.
  const lx = W - legendW - 4;
  let ly = m.top + 4;
  parts.push(`<g class="legend">\n`);
  o.series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length];
    parts.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 22}" y2="${ly}" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/><text x="${lx + 28}" y="${ly + 4}">${escapeXml(s.name)}</text>\n`);
    ly += 18;
  });
  for (const k of o.markers ?? []) {
    parts.push(`<path d="M${lx + 11} ${ly - 6}L${lx + 17} ${ly}L${lx + 11} ${ly + 6}L${lx + 5} ${ly}Z" fill="#ffffff" stroke="${k.color ?? '#000000'}" stroke-width="2"/><text x="${lx + 28}" y="${ly + 4}">${escapeXml(k.label)}</text>\n`);
    ly += 18;
  }
  for (const b of (o.bands ?? []).filter((b, i, all) => b.label && all.findIndex((c) => c.label === b.label) === i)) {
    parts.push(`<rect x="${lx}" y="${ly - 6}" width="22" height="12" fill="${b.color ?? '#fff3b0'}" stroke="#cccccc"/><text x="${lx + 28}" y="${ly + 4}">${escapeXml(b.label!)}</text>\n`);
    ly += 18;
  }
  parts.push(`</g>\n</svg>\n`);
  return parts.join('');
}

/** One picture of an image grid: a data URI (e.g. a PNG) shown at width × height, with a caption below. */
export interface GridImage {
  readonly href: string;
  readonly caption?: string;
  /** Draw a coloured frame around the picture (e.g. to flag a changed prediction). */
  readonly frame?: string;
}

export interface ImageRow {
  readonly title?: string;
  readonly images: readonly GridImage[];
}

export interface ImageGridOptions {
  readonly title: string;
  readonly rows: readonly ImageRow[];
  /** Size of each picture in pixels. */
  readonly cell: number;
  readonly gap?: number;
}

/** Rows of pictures, each row with an optional title, every picture an `<image class="cell">`. */
export function imageGrid(o: ImageGridOptions): string {
  const gap = o.gap ?? 10;
  const cols = Math.max(1, ...o.rows.map((r) => r.images.length));
  const rowH = (r: ImageRow): number => (r.title ? 18 : 0) + o.cell + (r.images.some((i) => i.caption) ? 18 : 0) + gap;
  const W = gap + cols * (o.cell + gap);
  const H = 34 + o.rows.reduce((a, r) => a + rowH(r), 0);
  const parts: string[] = [svgOpen(W, H, o.title)];
  parts.push(`<text x="${gap}" y="22" font-size="14" font-weight="bold">${escapeXml(o.title)}</text>\n`);
  let y = 34;
  for (const r of o.rows) {
    if (r.title) {
      parts.push(`<text x="${gap}" y="${y + 12}" fill="#333333">${escapeXml(r.title)}</text>\n`);
      y += 18;
    }
    r.images.forEach((img, i) => {
      const x = gap + i * (o.cell + gap);
      parts.push(`<image class="cell" x="${x}" y="${y}" width="${o.cell}" height="${o.cell}" preserveAspectRatio="none" style="image-rendering:pixelated" href="${escapeXml(img.href)}"/>\n`);
      if (img.frame) parts.push(`<rect x="${x - 1.5}" y="${y - 1.5}" width="${o.cell + 3}" height="${o.cell + 3}" fill="none" stroke="${img.frame}" stroke-width="3"/>\n`);
      if (img.caption) parts.push(`<text x="${x + o.cell / 2}" y="${y + o.cell + 14}" text-anchor="middle" fill="#333333">${escapeXml(img.caption)}</text>\n`);
    });
    y += o.cell + (r.images.some((i) => i.caption) ? 18 : 0) + gap;
  }
  parts.push(`</svg>\n`);
  return parts.join('');
}

export interface HeatmapOptions {
  readonly title: string;
  /** values[r][c]; non-finite entries are drawn grey with a dash (e.g. the diagonal of a source × target matrix). */
  readonly values: readonly (readonly number[])[];
  readonly rowLabels: readonly string[];
  readonly colLabels: readonly string[];
  /** Axis titles: rows (left, vertical) and columns (top). */
  readonly rowTitle: string;
  readonly colTitle: string;
  /** Colour scale [lo, hi] (default: the finite values' range); lo is white, hi dark. */
  readonly domain?: readonly [number, number];
  /** The text in a cell and in the scale (default: two decimals). */
  readonly format?: (v: number) => string;
  readonly cell?: number;
  /** Colour of the high end (default '#2b5c8a'). */
  readonly color?: string;
}

const hex2 = (v: number): string => Math.round(Math.min(255, Math.max(0, v))).toString(16).padStart(2, '0');

/** Linear blend from white (t = 0) to `color` (t = 1), `color` as #rrggbb. */
function shade(color: string, t: number): string {
  const u = Math.min(1, Math.max(0, t));
  const c = [1, 3, 5].map((i) => parseInt(color.slice(i, i + 2), 16));
  return `#${c.map((v) => hex2(255 + (v - 255) * u)).join('')}`;
}

/**
 * A heatmap of a matrix: one `<rect class="hm-cell" data-row data-col data-value>` per entry, the
 * value written in it (white text on dark cells), row and column labels, and a five-step scale.
 */
export function heatmap(o: HeatmapOptions): string {
  const cell = o.cell ?? 44;
  const nr = o.values.length;
  const nc = Math.max(0, ...o.values.map((r) => r.length));
  const fmt = o.format ?? ((v: number) => v.toFixed(2));
  const [lo, hi] = o.domain ?? extent(o.values.flat());
  const color = o.color ?? '#2b5c8a';
  const left = 70;
  const top = 64;
  const scaleW = 110;
  // Wide enough for the title at ~7.5 px per character of 14 px bold text.
  const W = Math.max(left + nc * cell + 20 + scaleW, 20 + Math.ceil(7.5 * o.title.length));
  const H = Math.max(top + nr * cell + 16, top + 5 * 22 + 40);
  const parts: string[] = [svgOpen(W, H, o.title)];
  parts.push(`<text x="10" y="20" font-size="14" font-weight="bold">${escapeXml(o.title)}</text>\n`);
  parts.push(`<text x="${left + (nc * cell) / 2}" y="40" text-anchor="middle" fill="#333333">${escapeXml(o.colTitle)}</text>\n`);
  parts.push(`<text transform="translate(18 ${top + (nr * cell) / 2}) rotate(-90)" text-anchor="middle" fill="#333333">${escapeXml(o.rowTitle)}</text>\n`);
  o.colLabels.slice(0, nc).forEach((l, c) => parts.push(`<text x="${left + c * cell + cell / 2}" y="${top - 6}" text-anchor="middle">${escapeXml(l)}</text>\n`));
  o.rowLabels.slice(0, nr).forEach((l, r) => parts.push(`<text x="${left - 8}" y="${top + r * cell + cell / 2 + 4}" text-anchor="end">${escapeXml(l)}</text>\n`));
  const t = (v: number): number => (v - lo) / (hi - lo || 1);
  o.values.forEach((row, r) => {
    for (let c = 0; c < nc; c++) {
      const v = row[c];
      const x = left + c * cell;
      const y = top + r * cell;
      const ok = Number.isFinite(v);
      parts.push(`<rect class="hm-cell" data-row="${r}" data-col="${c}" data-value="${ok ? String(v) : 'NaN'}" x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${ok ? shade(color, t(v)) : '#e0e0e0'}" stroke="#ffffff"/>\n`);
      parts.push(`<text x="${x + cell / 2}" y="${y + cell / 2 + 4}" text-anchor="middle" font-size="10" fill="${ok && t(v) > 0.55 ? '#ffffff' : '#333333'}">${ok ? escapeXml(fmt(v)) : '—'}</text>\n`);
    }
  });
  const sx = left + nc * cell + 20;
  parts.push(`<g class="scale">\n`);
  for (let k = 0; k < 5; k++) {
    const v = hi - ((hi - lo) * k) / 4;
    const y = top + k * 22;
    parts.push(`<rect x="${sx}" y="${y}" width="20" height="20" fill="${shade(color, t(v))}" stroke="#cccccc"/><text x="${sx + 26}" y="${y + 14}">${escapeXml(fmt(v))}</text>\n`);
  }
  parts.push(`</g>\n</svg>\n`);
  return parts.join('');
}
