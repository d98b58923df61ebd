/**
 * The packaging, read from the repository: Dockerfiles on Node 22 LTS, CI on Node 20, 22 and
 * 24 and building the three images without pushing, docker-compose.yml mounting only what each
 * service needs (no CA key) and keeping the msgqueue off the host's interfaces, a LICENSE, no
 * dependency that only the checkout needs in a runtime install (pino-pretty, utf-8-validate),
 * publishable service packages, and docs that cite nothing outside the repository.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { ROOT } from './harness.js';

const SERVICES = ['msgqueue', 'publisher', 'subscriber'] as const;
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const json = <T>(path: string) => JSON.parse(read(path)) as T;

t.test('every Dockerfile builds on Node 22 LTS, in every stage', async (t) => {
  const dockerfiles = readdirSync(ROOT, { withFileTypes: true })
    .filter((d) => d.isDirectory() && readdirSync(join(ROOT, d.name)).includes('Dockerfile'))
    .map((d) => `${d.name}/Dockerfile`);
  t.ok(dockerfiles.length >= 3, dockerfiles.join(', '));
  for (const file of dockerfiles) {
    const froms = read(file)
      .split('\n')
      .filter((l) => /^FROM\s/i.test(l));
    t.ok(froms.length > 0, `${file} has FROM lines`);
    for (const from of froms) t.match(from, /^FROM node:22[-.@\s]/, `${file}: ${from}`);
  }
});

interface Workflow {
  jobs: Record<
    string,
    {
      strategy?: { matrix?: Record<string, unknown[]> };
      steps: { uses?: string; run?: string; with?: Record<string, unknown> }[];
    }
  >;
}

t.test('CI tests on Node 20, 22 and 24 and builds the three images without pushing', async (t) => {
  const wf = parse(read('.github/workflows/ci.yml')) as Workflow;
  const test = Object.values(wf.jobs).find((j) => j.steps.some((s) => s.run === 'npm test'));
  t.ok(test, 'a job runs npm test');
  t.same(test?.strategy?.matrix?.node, [20, 22, 24]);
  const built = new Set<string>();
  for (const job of Object.values(wf.jobs)) {
    const services = (job.strategy?.matrix?.service as string[] | undefined) ?? [''];
    for (const step of job.steps) {
      if (step.uses?.startsWith('docker/build-push-action@')) {
        t.equal(step.with?.push, false, 'never pushed');
        for (const s of services) built.add(String(step.with?.file).replace('${{ matrix.service }}', s));
      }
      const m = step.run && /docker build .*-f (\S+)/.exec(step.run);
      if (m) built.add(m[1]!);
      t.notMatch(step.run ?? '', /docker push/, 'never pushed');
    }
  }
  t.same([...built].sort(), SERVICES.map((s) => `${s}/Dockerfile`).sort(), 'every image is built');
});

interface Compose {
  services: Record<string, { volumes?: string[]; ports?: string[]; command?: unknown }>;
}

t.test('compose: each service mounts only its own certificates, no CA key; msgqueue not on the host', async (t) => {
  const compose = parse(read('docker-compose.yml')) as Compose;
  const text = read('docker-compose.yml');
  t.notMatch(text.replace(/^\s*#.*$/gm, ''), /ca\.key/, 'no ca.key anywhere (comments aside)');
  const certVolumes = new Map<string, string>();
  for (const name of SERVICES) {
    const svc = compose.services[name]!;
    t.ok(svc, name);
    const certs = (svc.volumes ?? []).filter((v) => v.split(':')[1] === '/app/certs');
    t.equal(certs.length, 1, `${name} mounts one certificate volume`);
    t.match(certs[0], /:ro$/, `${name} mounts it read-only`);
    certVolumes.set(name, certs[0]!.split(':')[0]!);
  }
  t.equal(new Set(certVolumes.values()).size, SERVICES.length, 'each service has its own certificate volume');
  for (const port of compose.services.msgqueue!.ports ?? []) {
    t.match(String(port), /^127\.0\.0\.1:/, `msgqueue port ${port} only on the loopback`);
  }
  for (const [name, svc] of Object.entries(compose.services)) {
    for (const port of svc.ports ?? []) {
      // A bare "8080:8080" or "0.0.0.0:…" binds every interface of the host.
      t.notMatch(String(port), /^(0\.0\.0\.0:)?\d+:\d+$/, `${name}: ${port} is not on all interfaces`);
    }
  }
});

t.test('LICENSE: MIT, the wsq authors', async (t) => {
  const license = read('LICENSE');
  t.match(license, /^MIT License/);
  t.match(license, 'Copyright (c) 2026 the wsq authors');
  t.equal(json<{ license: string }>('package.json').license, 'MIT');
});

interface Lock {
  packages: Record<string, { dev?: boolean; dependencies?: Record<string, string> }>;
}

t.test('runtime installs (npm ci --omit=dev) carry neither pino-pretty nor utf-8-validate', async (t) => {
  const lock = json<Lock>('package-lock.json');
  t.equal(lock.packages['node_modules/pino-pretty']?.dev, true, 'pino-pretty is dev-only: --omit=dev leaves it out');
  t.notOk(lock.packages['node_modules/utf-8-validate'], 'utf-8-validate is not installed at all');
  for (const ws of ['core', ...SERVICES]) {
    const deps = json<{ dependencies?: Record<string, string> }>(`${ws}/package.json`).dependencies ?? {};
    t.notOk(deps['pino-pretty'], `${ws} does not depend on pino-pretty`);
    t.notOk(deps['utf-8-validate'], `${ws} does not depend on utf-8-validate`);
  }
  t.ok(
    json<{ devDependencies: Record<string, string> }>('package.json').devDependencies['pino-pretty'],
    'npm start still has it after npm install',
  );
});

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  files?: string[];
  bin?: Record<string, string>;
  dependencies?: Record<string, string>;
}

t.test('core and the services are publishable: files, bins, versions that resolve', async (t) => {
  const core = json<Manifest>('core/package.json');
  for (const ws of ['core', ...SERVICES]) {
    const m = json<Manifest>(`${ws}/package.json`);
    t.notOk(m.private, `${m.name} is not private`);
    t.same(m.files, ['dist/src', 'bin'], `${m.name} ships dist/src and bin`);
    for (const bin of Object.values(m.bin ?? {})) t.match(bin, /^\.\/bin\//, `${m.name}: ${bin} is in bin/`);
    const coreDep = m.dependencies?.['@wsq/core'];
    if (ws !== 'core') t.equal(coreDep, core.version, `${m.name} depends on @wsq/core ${core.version}`);
    for (const [dep, range] of Object.entries(m.dependencies ?? {})) {
      t.notMatch(range, /^(file:|workspace:|\.\.?\/)/, `${m.name}: ${dep} does not point into the checkout`);
    }
  }
});

t.test('docs cite nothing outside the repository', async (t) => {
  const docs = ['README.md', ...readdirSync(join(ROOT, 'docs')).map((f) => `docs/${f}`)].filter((f) =>
    f.endsWith('.md'),
  );
  for (const file of docs) {
    const text = read(file);
    t.notMatch(text, /\bDESIGN\b/, `${file} does not cite DESIGN`);
    t.notMatch(text, /\.\.\/shared/, `${file} does not point at ../shared`);
  }
});
