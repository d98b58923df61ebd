/**
 * Reads V8 .cpuprofile files (node --cpu-prof) and says where the time went: top functions by
 * self time, and self time grouped by where the code lives (ws, pino, node internals, wsq…).
 */
export interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }[];
  startTime: number;
  endTime: number;
  samples?: number[];
}

export interface ProfileEntry {
  name: string;
  selfMs: number;
  percent: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** Time outside idle. */
  busyMs: number;
  functions: ProfileEntry[];
  groups: ProfileEntry[];
}

/** Where a function lives, from its script URL. */
export function groupOf(functionName: string, url: string): string {
  if (functionName === '(idle)') return '(idle)';
  if (functionName === '(garbage collector)') return '(garbage collector)';
  if (functionName === '(program)' || functionName === '(root)') return '(program)';
  if (url === '') return '(native/builtin)';
  if (url.startsWith('node:')) return 'node internals';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1].startsWith('@wsq/') ? `wsq ${pkg[1].slice(5)}` : pkg[1];
  const ws = /\/(core|msgqueue|publisher|subscriber|bench)\/dist\/src\//.exec(url);
  if (ws) return `wsq ${ws[1]}`;
  return 'other';
}

function shortUrl(url: string): string {
  const i = url.search(/(node_modules|core|msgqueue|publisher|subscriber|bench)\//);
  return i >= 0 ? url.slice(i) : url.replace(/^file:\/\//, '');
}

export function summarizeProfile(profile: CpuProfile, top = 15): ProfileSummary {
  const totalMs = (profile.endTime - profile.startTime) / 1000;
  let hits = 0;
  for (const n of profile.nodes) hits += n.hitCount ?? 0;
  const msPerHit = hits > 0 ? totalMs / hits : 0;
  const byFn = new Map<string, number>();
  const byGroup = new Map<string, number>();
  let idle = 0;
  for (const n of profile.nodes) {
    const ms = (n.hitCount ?? 0) * msPerHit;
    if (ms === 0) continue;
    const { functionName, url, lineNumber } = n.callFrame;
    const group = groupOf(functionName, url);
    if (group === '(idle)') idle += ms;
    const name = url ? `${functionName || '(anonymous)'} ${shortUrl(url)}:${lineNumber + 1}` : functionName;
    byFn.set(name, (byFn.get(name) ?? 0) + ms);
    byGroup.set(group, (byGroup.get(group) ?? 0) + ms);
  }
  const busyMs = totalMs - idle;
  const rank = (m: Map<string, number>, skipIdle: boolean): ProfileEntry[] =>
    [...m.entries()]
      .filter(([name]) => !(skipIdle && name.startsWith('(idle)')))
      .sort((a, b) => b[1] - a[1])
      .map(([name, selfMs]) => ({ name, selfMs, percent: busyMs > 0 ? (100 * selfMs) / busyMs : 0 }));
  // Places under half a percent (mostly start-up: TLS libraries loading) are noise here.
  const groups = rank(byGroup, true).filter((g) => g.percent >= 0.5);
  return { totalMs, busyMs, functions: rank(byFn, true).slice(0, top), groups };
}

export function formatProfileSummary(service: string, s: ProfileSummary): string {
  const line = (e: ProfileEntry): string =>
    `  ${e.selfMs.toFixed(0).padStart(7)} ms ${e.percent.toFixed(1).padStart(5)}%  ${e.name}`;
  return [
    `${service}: ${(s.totalMs / 1000).toFixed(1)} s profiled, ${(s.busyMs / 1000).toFixed(1)} s busy (percent of busy)`,
    ' by place:',
    ...s.groups.map(line),
    ' top functions by self time:',
    ...s.functions.map(line),
    '',
  ].join('\n');
}
