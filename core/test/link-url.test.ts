/** The link client's pure parts; the link itself is tested against the real msgqueue (msgqueue/test/link-home/). */
import t from 'tap';
import { describeLinkError, linkUrl } from '../src/queue/link/link-client.js';

t.test('linkUrl appends the link path to the base URL path, a prefix', async (t) => {
  const cases: [string, string][] = [
    ['wss://localhost:8080', 'wss://localhost:8080/pushmsg'],
    ['wss://localhost:8080/', 'wss://localhost:8080/pushmsg'],
    ['wss://gw.example/wsq', 'wss://gw.example/wsq/pushmsg'],
    ['wss://gw.example/some/path//', 'wss://gw.example/some/path/pushmsg'],
  ];
  for (const [base, want] of cases) t.equal(linkUrl(base, '/pushmsg'), want, base);
  t.equal(linkUrl('wss://gw.example/wsq/', '/popmsg'), 'wss://gw.example/wsq/popmsg');
});

t.test('describeLinkError names certificate problems and falls back to the code', async (t) => {
  const e = (code: string | undefined, message = 'x') =>
    Object.assign(new Error(message), code === undefined ? {} : { code });
  t.match(describeLinkError(e('SELF_SIGNED_CERT_IN_CHAIN')), /^certificate not trusted/);
  t.match(describeLinkError(e('ERR_TLS_CERT_ALTNAME_INVALID')), /host name/);
  t.match(describeLinkError(e('CERT_HAS_EXPIRED')), /not valid now/);
  t.equal(describeLinkError(e('ECONNREFUSED')), 'ECONNREFUSED');
  t.equal(describeLinkError(e(undefined, 'Opening handshake has timed out')), 'Opening handshake has timed out');
});
