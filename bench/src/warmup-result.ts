/** The outcome of one warm-up run, apart from warmup.ts so that report.ts can print it without importing the runner. */
import type { DeploymentId } from './deployments.js';
import type { ScenarioName } from './options.js';
import type { SystemKind } from './transport.js';

/** What a warm-up did; never part of the results, the ratios or the CPU lines. */
export interface WarmupResult {
  scenario: ScenarioName;
  system: SystemKind;
  /** A wsq system the bench started: which deployment. */
  deployment?: DeploymentId;
  messages: number;
  deliveries: number;
  deliveriesPerSec: number;
  lost: number;
  duplicates: number;
  unexpected: number;
  durationMs: number;
}
