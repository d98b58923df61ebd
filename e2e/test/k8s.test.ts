/**
 * deploy/k8s/base, checked offline: every YAML document parses and matches a schema of the
 * fields wsq relies on (ajv), and the objects agree with each other and with the services:
 * ports as documented, probes on paths the services answer, over HTTPS, WSQ_* variables that
 * are options of that service, Secret-mounted users file and TLS, Services and budgets that
 * select a workload, a kustomization that lists every file.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { envName, type OptionSpec } from '@wsq/core';
import t from 'tap';
import { parseAllDocuments } from 'yaml';
import { ROOT, type ServiceName } from './harness.js';

const BASE = join(ROOT, 'deploy/k8s/base');
const PORTS: Record<ServiceName, number> = { msgqueue: 8080, publisher: 8081, subscriber: 8082 };
/** The probe paths every service answers (core's PROBE_PATHS, less /metrics). */
const PROBES = { livenessProbe: '/healthz', readinessProbe: '/readyz', startupProbe: '/healthz' } as const;

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  [k: string]: unknown;
}

const probe = {
  type: 'object',
  required: ['httpGet'],
  properties: {
    httpGet: {
      type: 'object',
      required: ['path', 'port', 'scheme'],
      properties: { path: { type: 'string' }, port: { type: ['string', 'integer'] }, scheme: { const: 'HTTPS' } },
    },
  },
};

const container = {
  type: 'object',
  required: ['name', 'image', 'ports', 'env', 'livenessProbe', 'readinessProbe', 'volumeMounts', 'resources'],
  properties: {
    name: { type: 'string', pattern: '^[a-z0-9-]+$' },
    image: { type: 'string', minLength: 1 },
    ports: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['name', 'containerPort'],
        properties: { name: { type: 'string' }, containerPort: { type: 'integer' } },
      },
    },
    env: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name'],
        properties: { name: { type: 'string', pattern: '^WSQ_[A-Z0-9_]+$' } },
        oneOf: [{ required: ['value'] }, { required: ['valueFrom'] }],
      },
    },
    livenessProbe: probe,
    readinessProbe: probe,
    startupProbe: probe,
    volumeMounts: {
      type: 'array',
      items: { type: 'object', required: ['name', 'mountPath'] },
    },
    resources: { type: 'object', required: ['requests'] },
  },
};

const podTemplate = {
  type: 'object',
  required: ['metadata', 'spec'],
  properties: {
    metadata: { type: 'object', required: ['labels'] },
    spec: {
      type: 'object',
      required: ['containers', 'volumes', 'securityContext'],
      properties: {
        containers: { type: 'array', minItems: 1, items: container },
        securityContext: { type: 'object', required: ['runAsNonRoot'], properties: { runAsNonRoot: { const: true } } },
        volumes: {
          type: 'array',
          items: { type: 'object', required: ['name'] },
        },
      },
    },
  },
};

const metadata = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' } },
};

const SCHEMAS: Record<string, object> = {
  Service: {
    type: 'object',
    required: ['apiVersion', 'kind', 'metadata', 'spec'],
    properties: {
      apiVersion: { const: 'v1' },
      metadata,
      spec: {
        type: 'object',
        required: ['selector', 'ports'],
        properties: {
          ports: {
            type: 'array',
            minItems: 1,
            items: { type: 'object', required: ['name', 'port', 'targetPort'] },
          },
        },
      },
    },
  },
  Deployment: {
    type: 'object',
    required: ['apiVersion', 'kind', 'metadata', 'spec'],
    properties: {
      apiVersion: { const: 'apps/v1' },
      metadata,
      spec: { type: 'object', required: ['selector', 'template', 'replicas'], properties: { template: podTemplate } },
    },
  },
  StatefulSet: {
    type: 'object',
    required: ['apiVersion', 'kind', 'metadata', 'spec'],
    properties: {
      apiVersion: { const: 'apps/v1' },
      metadata,
      spec: {
        type: 'object',
        required: ['selector', 'template', 'serviceName', 'volumeClaimTemplates'],
        properties: { template: podTemplate, replicas: { const: 1 } },
      },
    },
  },
  PodDisruptionBudget: {
    type: 'object',
    required: ['apiVersion', 'kind', 'metadata', 'spec'],
    properties: {
      apiVersion: { const: 'policy/v1' },
      metadata,
      spec: {
        type: 'object',
        required: ['selector'],
        oneOf: [{ required: ['minAvailable'] }, { required: ['maxUnavailable'] }],
      },
    },
  },
};

function loadObjects(): { file: string; obj: K8sObject }[] {
  const out: { file: string; obj: K8sObject }[] = [];
  for (const file of readdirSync(BASE).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml')) {
    for (const doc of parseAllDocuments(readFileSync(join(BASE, file), 'utf8'))) {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
      const obj = doc.toJS() as K8sObject | null;
      if (obj) out.push({ file, obj });
    }
  }
  return out;
}

type PodSpec = {
  containers: {
    name: string;
    image: string;
    ports: { name: string; containerPort: number }[];
    env: { name: string; value?: string; valueFrom?: unknown }[];
    volumeMounts: { name: string; mountPath: string }[];
    [probe: string]: unknown;
  }[];
  volumes: { name: string; secret?: { secretName: string } }[];
};

function workloadOf(obj: K8sObject): { labels: Record<string, string>; pod: PodSpec } | undefined {
  if (obj.kind !== 'Deployment' && obj.kind !== 'StatefulSet') return undefined;
  const template = obj.spec!.template as { metadata: { labels: Record<string, string> }; spec: PodSpec };
  return { labels: template.metadata.labels, pod: template.spec };
}

function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

async function optionsOf(name: ServiceName): Promise<readonly OptionSpec[]> {
  const mod = (await import(join(ROOT, name, 'dist/src/index.js'))) as { OPTIONS: readonly OptionSpec[] };
  return mod.OPTIONS;
}

t.test('every manifest matches the schema of its kind', async (t) => {
  const ajv = new Ajv({ allErrors: true, strict: false });
  const objects = loadObjects();
  t.ok(objects.length >= 7, `${objects.length} objects`);
  for (const { file, obj } of objects) {
    const schema = SCHEMAS[obj.kind];
    t.ok(schema, `${file}: ${obj.kind} is a kind wsq ships`);
    if (!schema) continue;
    const validate = ajv.compile(schema);
    t.ok(validate(obj), `${file}: ${obj.kind}/${obj.metadata?.name} ${ajv.errorsText(validate.errors)}`);
  }
  const kinds = new Set(objects.map((o) => o.obj.kind));
  for (const kind of ['Service', 'Deployment', 'StatefulSet', 'PodDisruptionBudget']) t.ok(kinds.has(kind), kind);
});

t.test('a schema violation is caught (the check can fail)', async (t) => {
  const ajv = new Ajv({ allErrors: true, strict: false });
  const validate = ajv.compile(SCHEMAS.Deployment!);
  const deployment = loadObjects().find((o) => o.obj.kind === 'Deployment')!.obj;
  const broken = structuredClone(deployment) as K8sObject & { spec: { template: { spec: PodSpec } } };
  (broken.spec.template.spec.containers[0]!.readinessProbe as { httpGet: { scheme: string } }).httpGet.scheme = 'HTTP';
  t.notOk(validate(broken), 'an HTTP probe is refused');
});

t.test('each service: its port, probes on /healthz and /readyz, its own WSQ_* options, Secrets', async (t) => {
  const objects = loadObjects().map((o) => o.obj);
  for (const name of Object.keys(PORTS) as ServiceName[]) {
    const workload = objects.find((o) => workloadOf(o) && o.metadata.name === `wsq-${name}`);
    t.ok(workload, `wsq-${name} has a workload`);
    if (!workload) continue;
    if (name === 'msgqueue') t.equal(workload.kind, 'StatefulSet', 'the journal lives on a persistent volume claim');
    const { pod } = workloadOf(workload)!;
    const c = pod.containers[0]!;
    t.same(
      c.ports.map((p) => p.containerPort),
      [PORTS[name]],
      `${name} listens on ${PORTS[name]}`,
    );
    const env = new Map(c.env.map((e) => [e.name, e]));
    t.equal(env.get('WSQ_PORT')?.value, String(PORTS[name]), 'WSQ_PORT matches the container port');
    t.equal(env.get('WSQ_HOST')?.value, '0.0.0.0', 'reachable by the kubelet and the Service');
    const known = new Set((await optionsOf(name)).map((o) => envName(o.key)));
    t.same(
      [...env.keys()].filter((k) => !known.has(k)),
      [],
      `${name}: every variable is an option of wsq-${name}`,
    );
    for (const [kind, path] of Object.entries(PROBES)) {
      const p = c[kind] as { httpGet: { path: string; port: string | number } } | undefined;
      if (!p) continue;
      t.equal(p.httpGet.path, path, `${name} ${kind} on ${path}`);
      t.ok(
        c.ports.some((port) => port.name === p.httpGet.port || port.containerPort === p.httpGet.port),
        `${name} ${kind} port exists`,
      );
    }
    const secretOf = (volume: string) => pod.volumes.find((v) => v.name === volume)?.secret?.secretName;
    const mountOf = (path: string | undefined) =>
      c.volumeMounts.find((m) => path !== undefined && path.startsWith(m.mountPath + '/'));
    for (const [variable, secret] of [
      ['WSQ_USERS', 'wsq-users'],
      ['WSQ_CERT', 'wsq-tls'],
      ['WSQ_KEY', 'wsq-tls'],
      ['WSQ_CA', 'wsq-tls'],
    ] as const) {
      const mount = mountOf(env.get(variable)?.value);
      t.ok(mount, `${name}: ${variable} is inside a mount`);
      t.equal(mount && secretOf(mount.name), secret, `${name}: ${variable} comes from the Secret ${secret}`);
    }
    if (name !== 'msgqueue') {
      t.equal(env.get('WSQ_QUEUE')?.value, `wss://wsq-msgqueue:${PORTS.msgqueue}`, `${name} links to the msgqueue`);
      t.ok(env.get('WSQ_QUEUE_PASSWORD')?.valueFrom, 'the link password comes from a Secret, not a value');
    }
  }
});

t.test('Services and budgets select a workload; Services target a named container port', async (t) => {
  const objects = loadObjects().map((o) => o.obj);
  const workloads = objects.map(workloadOf).filter((w) => w !== undefined);
  for (const o of objects.filter((x) => x.kind === 'Service')) {
    const spec = o.spec as { selector: Record<string, string>; ports: { port: number; targetPort: string }[] };
    const target = workloads.filter((w) => selects(spec.selector, w.labels));
    t.equal(target.length, 1, `Service ${o.metadata.name} selects one workload`);
    const ports = target[0]?.pod.containers[0]?.ports ?? [];
    for (const p of spec.ports) {
      const c = ports.find((x) => x.name === p.targetPort);
      t.ok(c, `Service ${o.metadata.name}: targetPort ${p.targetPort} exists`);
      t.equal(p.port, c?.containerPort, `Service ${o.metadata.name} keeps the documented port`);
    }
  }
  const budgets = objects.filter((x) => x.kind === 'PodDisruptionBudget');
  t.ok(budgets.length >= 1);
  for (const o of budgets) {
    const { matchLabels } = (o.spec as { selector: { matchLabels: Record<string, string> } }).selector;
    t.equal(workloads.filter((w) => selects(matchLabels, w.labels)).length, 1, `PDB ${o.metadata.name} selects one`);
  }
});

t.test('kustomization.yaml lists every manifest and names every image', async (t) => {
  const k = parseAllDocuments(readFileSync(join(BASE, 'kustomization.yaml'), 'utf8'))[0]!.toJS() as {
    kind: string;
    resources: string[];
    images: { name: string }[];
  };
  t.equal(k.kind, 'Kustomization');
  const files = readdirSync(BASE).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml');
  t.same([...k.resources].sort(), files.sort());
  const images = new Set(k.images.map((i) => i.name));
  for (const { obj } of loadObjects()) {
    for (const c of workloadOf(obj)?.pod.containers ?? []) t.ok(images.has(c.image), `image ${c.image} is listed`);
  }
});
