/**
 * The browser demo, served under /demo/ when the subscriber runs with --demo: a static page
 * (subscriber/demo/) and the @wsq/client browser bundle it runs on. Plain GETs, no credentials:
 * the page logs in itself, with tickets, and its WebSockets pass the usual Origin checks
 * (--allowed-origins). Files are read once, on first use, and held (a few tens of KiB).
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';

export const DEMO_PREFIX = '/demo/';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

/** The page may load only its own files, and talk to any wss:// / https:// service (the publisher's port differs). */
const HEADERS = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self' https: wss:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-cache',
};

function bundlePath(file: string): string {
  return fileURLToPath(new URL(file, import.meta.resolve('@wsq/client/browser')));
}

/** Where each served name comes from. */
export function demoFiles(): Map<string, string> {
  const page = (name: string) => fileURLToPath(new URL(`../../demo/${name}`, import.meta.url));
  return new Map([
    ['', page('index.html')],
    ['index.html', page('index.html')],
    ['app.js', page('app.js')],
    ['demo.css', page('demo.css')],
    ['wsq-client.js', bundlePath('wsq-client.js')],
    ['wsq-client.js.map', bundlePath('wsq-client.js.map')],
  ]);
}

export type HttpHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;

/** The handler for createServiceServer's `http` hook: true when it answered. */
export function createDemoPage(files: Map<string, string> = demoFiles()): HttpHandler {
  const cache = new Map<string, Buffer>();
  return async (req, res, url) => {
    if (url.pathname === '/demo') {
      res.writeHead(308, { Location: DEMO_PREFIX }).end();
      return true;
    }
    if (!url.pathname.startsWith(DEMO_PREFIX)) return false;
    const name = url.pathname.slice(DEMO_PREFIX.length);
    const path = files.get(name);
    if (path === undefined) return false; // the server's 404
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return true;
    }
    let body = cache.get(name);
    if (body === undefined) {
      try {
        body = await readFile(path);
      } catch {
        res
          .writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8' })
          .end(`${name} is missing: build it with npm run build\n`);
        return true;
      }
      cache.set(name, body);
    }
    const ext = path.slice(path.lastIndexOf('.'));
    res.writeHead(200, {
      ...HEADERS,
      'Content-Type': TYPES[ext] ?? 'application/octet-stream',
      'Content-Length': body.length,
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
}
