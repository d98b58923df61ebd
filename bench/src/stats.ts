/** Latency numbers from an HdrHistogram of microseconds, in milliseconds. */
import { decodeFromCompressedBase64, type Histogram } from 'hdr-histogram-js';

export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

const MS = 1000;

export function summarize(h: Histogram): LatencySummary {
  if (h.totalCount === 0) return { count: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 };
  return {
    count: h.totalCount,
    p50: h.getValueAtPercentile(50) / MS,
    p90: h.getValueAtPercentile(90) / MS,
    p99: h.getValueAtPercentile(99) / MS,
    p999: h.getValueAtPercentile(99.9) / MS,
    max: h.maxValue / MS,
    mean: h.mean / MS,
  };
}

/** Percentiles from 0 to 99.99 spaced evenly on the "nines" scale (x = -log10(1 - p/100)). */
export const CURVE_MAX_NINES = 4;

export interface CurvePoint {
  percentile: number;
  ms: number;
}

export function percentileCurve(histogramBase64: string, steps = 80): CurvePoint[] {
  const h = decodeFromCompressedBase64(histogramBase64);
  if (h.totalCount === 0) return [];
  const points: CurvePoint[] = [];
  for (let i = 0; i <= steps; i++) {
    const percentile = 100 * (1 - Math.pow(10, -(CURVE_MAX_NINES * i) / steps));
    points.push({ percentile, ms: h.getValueAtPercentile(percentile) / MS });
  }
  return points;
}
