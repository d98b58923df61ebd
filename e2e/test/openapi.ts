/**
 * Checks HTTP answers against docs/openapi.json, so the document cannot drift from the
 * services: the status must be documented for the operation, the content type too, a JSON
 * body must validate against its schema (ajv, JSON Schema 2020-12 as OpenAPI 3.1 uses), and
 * headers the document marks required must be there. `api()` does a request and checks it.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { ROOT } from './harness.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => void;

export const OPENAPI_TEXT = readFileSync(join(ROOT, 'docs/openapi.json'), 'utf8');

interface MediaType {
  schema?: unknown;
}
interface ResponseDoc {
  content?: Record<string, MediaType>;
  headers?: Record<string, { required?: boolean }>;
}
interface Doc {
  paths: Record<string, Record<string, { responses: Record<string, ResponseDoc> }>>;
}

const doc = JSON.parse(OPENAPI_TEXT) as Doc;
const ajv = new Ajv2020({ strict: false, validateSchema: false, allErrors: true });
addFormats(ajv);
ajv.addSchema(doc, 'openapi');

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** The ways an answer departs from the document; empty when it conforms. */
export function conformance(method: string, template: string, a: Answer): string[] {
  const item = doc.paths[template];
  const op = item?.[method.toLowerCase()];
  if (item && !op && a.status === 405) return wrongMethod(a);
  if (!op) return [`${method} ${template} is not documented`];
  const res = op.responses[String(a.status)];
  if (!res) return [`${method} ${template}: status ${a.status} is not documented`];
  const problems: string[] = [];
  for (const [name, h] of Object.entries(res.headers ?? {})) {
    if (h.required && a.headers[name.toLowerCase()] === undefined) problems.push(`header ${name} missing`);
  }
  if (!res.content) return problems;
  const type = String(a.headers['content-type'] ?? '')
    .split(';', 1)[0]!
    .trim();
  if (!res.content[type]) return [...problems, `content type ${type} is not documented for ${a.status}`];
  if (type !== 'application/json') return problems;
  const pointer = `openapi#/paths/${template.replaceAll('~', '~0').replaceAll('/', '~1')}/${method.toLowerCase()}/responses/${a.status}/content/application~1json/schema`;
  const validate = ajv.compile({ $ref: pointer });
  let body: unknown;
  try {
    body = JSON.parse(a.body);
  } catch {
    return [...problems, 'the body is not JSON'];
  }
  if (!validate(body)) problems.push(...(validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`));
  return problems;
}

/**
 * A method a documented path does not take: OpenAPI describes no operation for it, so the
 * answer is checked against what the document promises for every path: 405, `Allow`, and
 * (on JSON API paths) the Error schema.
 */
function wrongMethod(a: Answer): string[] {
  const problems = a.headers.allow === undefined ? ['header Allow missing'] : [];
  if (!String(a.headers['content-type'] ?? '').startsWith('application/json')) return problems;
  const validate = ajv.compile({ $ref: 'openapi#/components/schemas/Error' });
  if (!validate(JSON.parse(a.body))) problems.push('the body is not an Error');
  return problems;
}

export interface ApiRequest {
  method?: string;
  /** The documented path template, e.g. /v1/consumers/{name} (default: the URL's path). */
  template?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  auth?: { user: string; password: string };
  ca: Buffer;
}

export interface Checked extends Answer {
  /** Departures from docs/openapi.json (the caller asserts it is empty). */
  problems: string[];
  json<T = Record<string, unknown>>(): T;
}

/** Does the request; the answer comes with its conformance to the document. */
export function api(url: string, o: ApiRequest): Promise<Checked> {
  const method = o.method ?? 'GET';
  const headers: Record<string, string> = { ...o.headers };
  if (o.auth) headers.authorization = 'Basic ' + Buffer.from(`${o.auth.user}:${o.auth.password}`).toString('base64');
  return new Promise((resolve, reject) => {
    const req = request(url, { method, ca: o.ca, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const a = { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() };
        const template = o.template ?? new URL(url).pathname;
        resolve({ ...a, problems: conformance(method, template, a), json: () => JSON.parse(a.body) });
      });
    });
    req.on('error', reject);
    req.end(o.body);
  });
}
