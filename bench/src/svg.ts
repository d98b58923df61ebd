/**
 * A small hand-written SVG of latency percentile curves: x is the percentile on the "nines"
 * scale (0, 90, 99, 99.9, 99.99 evenly spaced), y is milliseconds on a log scale, one line
 * per system. No dependencies; the output is deterministic for the same points.
 */
import { CURVE_MAX_NINES, type CurvePoint } from './stats.js';

export interface ChartSeries {
  label: string;
  points: readonly CurvePoint[];
}

export interface ChartOptions {
  title: string;
  subtitle?: string;
  series: readonly ChartSeries[];
  width?: number;
  height?: number;
}

const COLORS = ['#1f6feb', '#e8590c', '#2f9e44', '#ae3ec9'];
const MARGIN = { left: 78, right: 20, top: 56, bottom: 48 };
const X_TICKS = ['0%', '90%', '99%', '99.9%', '99.99%'];

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function nines(percentile: number): number {
  return percentile >= 100 ? CURVE_MAX_NINES : Math.min(CURVE_MAX_NINES, -Math.log10(1 - percentile / 100));
}

function fmtMs(ms: number): string {
  return ms >= 1 ? `${ms} ms` : `${Number(ms.toPrecision(1))} ms`;
}

export function renderLatencyChart(o: ChartOptions): string {
  const width = o.width ?? 720;
  const height = o.height ?? 420;
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const values = o.series.flatMap((s) => s.points.map((p) => p.ms)).filter((v) => v > 0);
  const lo = Math.floor(Math.log10(values.length ? Math.min(...values) : 0.1));
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(values.length ? Math.max(...values) : 1)));
  const x = (percentile: number): number => MARGIN.left + (nines(percentile) / CURVE_MAX_NINES) * plotW;
  const y = (ms: number): number =>
    MARGIN.top + plotH - ((Math.log10(Math.max(ms, Math.pow(10, lo))) - lo) / (hi - lo)) * plotH;
  const r = (n: number): string => n.toFixed(1);

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${MARGIN.left}" y="22" font-size="16" font-weight="bold">${escapeXml(o.title)}</text>`,
  ];
  if (o.subtitle) out.push(`<text x="${MARGIN.left}" y="40" fill="#555">${escapeXml(o.subtitle)}</text>`);
  for (let d = lo; d <= hi; d++) {
    const yy = r(y(Math.pow(10, d)));
    out.push(
      `<line x1="${MARGIN.left}" x2="${width - MARGIN.right}" y1="${yy}" y2="${yy}" stroke="#ddd"/>`,
      `<text x="${MARGIN.left - 6}" y="${yy}" text-anchor="end" dominant-baseline="middle">${fmtMs(Math.pow(10, d))}</text>`,
    );
  }
  X_TICKS.forEach((label, i) => {
    const xx = r(MARGIN.left + (i / CURVE_MAX_NINES) * plotW);
    out.push(
      `<line x1="${xx}" x2="${xx}" y1="${MARGIN.top}" y2="${MARGIN.top + plotH}" stroke="#ddd"/>`,
      `<text x="${xx}" y="${MARGIN.top + plotH + 16}" text-anchor="middle">${label}</text>`,
    );
  });
  out.push(
    `<text x="${MARGIN.left + plotW / 2}" y="${height - 8}" text-anchor="middle" fill="#555">percentile</text>`,
    `<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#888"/>`,
  );
  if (values.length === 0) {
    out.push(`<text x="${MARGIN.left + plotW / 2}" y="${MARGIN.top + plotH / 2}" text-anchor="middle">no data</text>`);
  }
  o.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    if (s.points.length > 0) {
      const d = s.points.map((p, j) => `${j === 0 ? 'M' : 'L'}${r(x(p.percentile))},${r(y(p.ms))}`).join(' ');
      out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`);
    }
    const ly = MARGIN.top + 16 + i * 18;
    out.push(
      `<line x1="${MARGIN.left + 10}" x2="${MARGIN.left + 34}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="3"/>`,
      `<text x="${MARGIN.left + 40}" y="${ly}" dominant-baseline="middle">${escapeXml(s.label)}</text>`,
    );
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
