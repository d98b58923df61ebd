import t from 'tap';
import { originAllowed, parseAllowedOrigin } from '../src/front/origins.js';

t.test('allowed origins are normalised: lower case, no default port', async (t) => {
  const cases: [string, string][] = [
    ['https://app.example.com', 'https://app.example.com'],
    ['HTTPS://App.Example.COM', 'https://app.example.com'],
    ['https://app.example.com:443', 'https://app.example.com'],
    ['http://app.example.com:80', 'http://app.example.com'],
    ['https://app.example.com:8443', 'https://app.example.com:8443'],
    ['http://app.example.com:443', 'http://app.example.com:443'],
    ['http://localhost:5173', 'http://localhost:5173'],
    ['http://127.0.0.1:8000', 'http://127.0.0.1:8000'],
    ['http://[::1]:3000', 'http://[::1]:3000'],
    ['https://*.example.com', 'https://*.example.com'],
    ['https://*.Example.com:443', 'https://*.example.com'],
    ['https://*.example.com:8443', 'https://*.example.com:8443'],
    ['  https://app.example.com  ', 'https://app.example.com'],
  ];
  for (const [raw, want] of cases) t.equal(parseAllowedOrigin(raw), want, raw);
});

t.test('anything but scheme://host[:port] is refused, naming the field', async (t) => {
  const bad = [
    '*',
    'null',
    '',
    'app.example.com',
    'https://a.com/',
    'https://a.com/app',
    'https://a.com?x=1',
    'https://a.com#top',
    'https://a.com\\x',
    'https://user@a.com',
    'https://a.com:99999',
    'https://*',
    'https://*.com.*',
    'https://a.*.example.com',
    '*.example.com',
    'ftp://files.example.com',
    'wss://app.example.com',
  ];
  for (const raw of bad) {
    t.throws(() => parseAllowedOrigin(raw), { code: 'BAD_CONFIG', field: 'allowedOrigins' }, JSON.stringify(raw));
  }
});

t.test('originAllowed compares normalised origins on both sides', async (t) => {
  const allowed = ['https://app.example.com:443', 'https://*.good.example', 'http://localhost:5173'];
  const cases: [string | undefined, boolean][] = [
    [undefined, true],
    ['https://app.example.com', true],
    ['https://app.example.com:443', true],
    ['https://APP.example.com', true],
    ['http://app.example.com', false],
    ['https://app.example.com:8443', false],
    ['https://x.good.example', true],
    ['https://a.b.good.example:443', true],
    ['https://good.example', false],
    ['https://evilgood.example', false],
    ['http://x.good.example', false],
    ['http://localhost:5173', true],
    ['http://localhost', false],
    ['null', false],
    ['https://a b.good.example', false],
    ['not an origin', false],
    ['https://*.good.example', false],
  ];
  for (const [origin, want] of cases) t.equal(originAllowed(allowed, origin), want, String(origin));
  t.equal(originAllowed([], 'https://anything.example'), true, 'an empty list allows any origin');
});
