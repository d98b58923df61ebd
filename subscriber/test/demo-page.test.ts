/** The browser demo under /demo/ (--demo only): the page, its script, the SDK bundle; nothing else. */
import t from 'tap';
import { createMemoryQueue, httpsRequest } from '@wsq/core/testing';
import { startSubscriber } from './helpers.js';

t.test('--demo serves the page, its script and the SDK bundle under /demo/', async (t) => {
  const s = await startSubscriber(t, createMemoryQueue());
  const get = (path: string, method = 'GET') => httpsRequest(`${s.base}${path}`, { ca: s.ca, method });

  const page = await get('/demo/');
  t.equal(page.status, 200);
  t.match(page.headers['content-type'], /^text\/html/);
  t.match(page.body, /<script type="module" src="app.js"><\/script>/);
  t.match(page.headers['content-security-policy'], /script-src 'self'/);
  t.equal(page.headers['x-content-type-options'], 'nosniff');

  const app = await get('/demo/app.js');
  t.equal(app.status, 200);
  t.match(app.headers['content-type'], /^text\/javascript/);
  t.match(app.body, /from '\.\/wsq-client\.js'/);

  const bundle = await get('/demo/wsq-client.js');
  t.equal(bundle.status, 200);
  t.match(bundle.body, /fetchTicket|connect/);
  t.notMatch(bundle.body, /from ?["'](ws|node:)/, 'no Node imports in the browser bundle');

  t.equal((await get('/demo/demo.css')).status, 200);
  t.equal((await get('/demo/wsq-client.js.map')).status, 200);
  const head = await get('/demo/app.js', 'HEAD');
  t.equal(head.status, 200);
  t.equal(head.body, '');

  const redirect = await get('/demo');
  t.equal(redirect.status, 308);
  t.equal(redirect.headers.location, '/demo/');
  t.equal((await get('/demo/../src/main.js')).status, 404, 'only the listed files');
  t.equal((await get('/demo/nope.js')).status, 404);
  t.equal((await get('/demo/app.js', 'POST')).status, 405);
});

t.test('without --demo there is no /demo/', async (t) => {
  const s = await startSubscriber(t, createMemoryQueue(), { demo: false, users: undefined });
  const r = await httpsRequest(`${s.base}/demo/`, { ca: s.ca });
  t.equal(r.status, 404);
});
