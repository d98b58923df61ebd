/** The outcome of one warm-up run, apart from warmup.ts so that report.ts can print it without importing the runner. */
import type { ScenarioName } from './options.js';
import type { SystemKind } from './transport.js';

/** What a warm-up did; never part of the results, the ratios or the CPU lines. */
export interface WarmupResult {
  scenario: ScenarioName;
  system: SystemKind;
  messages: number;
  deliveries: number;
  deliveriesPerSec: number;
  lost: number;
  duplicates: number;
  unexpected: number;
  durationMs: number;
}
