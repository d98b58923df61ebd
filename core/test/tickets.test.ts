import t from 'tap';
import { createTicketStore, TICKET_DEFAULTS } from '../src/front/tickets.js';

const alice = Object.freeze({ name: 'alice', publish: ['>'], subscribe: ['>'] });
const bob = Object.freeze({ name: 'bob', publish: [], subscribe: ['news'] });

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

t.test('a ticket is 32 random bytes in base64url, valid for ttlMs, and redeems once', async (t) => {
  const c = clock();
  const store = createTicketStore(TICKET_DEFAULTS, c);
  const issued = store.issue(alice);
  t.match(issued.ticket, /^[A-Za-z0-9_-]{43}$/);
  t.equal(Buffer.from(issued.ticket, 'base64url').length, 32);
  t.equal(issued.expiresAt, c.now() + 30_000);
  t.not(store.issue(alice).ticket, issued.ticket, 'every ticket is new');
  t.equal(store.redeem(issued.ticket), alice);
  t.equal(store.redeem(issued.ticket), null, 'single use');
});

t.test('peek tells the principal of a ticket without using it up', async (t) => {
  const c = clock();
  const store = createTicketStore({ ttlMs: 1000, maxTickets: 10 }, c);
  const issued = store.issue(alice);
  t.equal(store.peek(issued.ticket), alice);
  t.equal(store.peek(issued.ticket), alice, 'still there');
  t.equal(store.redeem(issued.ticket), alice);
  t.equal(store.peek(issued.ticket), null, 'used');
  const late = store.issue(bob);
  c.advance(1000);
  t.equal(store.peek(late.ticket), null, 'expired');
  t.equal(store.peek('nope'), null);
  t.equal(store.peek(''), null);
});

t.test('an expired ticket is refused; one just before expiry is accepted', async (t) => {
  const c = clock();
  const store = createTicketStore({ ttlMs: 1000, maxTickets: 10 }, c);
  const early = store.issue(alice);
  const late = store.issue(bob);
  c.advance(999);
  t.equal(store.redeem(early.ticket), alice);
  c.advance(1);
  t.equal(store.redeem(late.ticket), null, 'expired at expiresAt');
});

t.test('expired tickets are swept lazily, oldest first', async (t) => {
  const c = clock();
  const store = createTicketStore({ ttlMs: 1000, maxTickets: 100 }, c);
  for (let i = 0; i < 10; i++) store.issue(alice);
  c.advance(500);
  const young = store.issue(bob);
  t.equal(store.size, 11);
  c.advance(600);
  t.equal(store.redeem('nope'), null);
  t.equal(store.size, 1, 'the ten expired ones are gone; the young one stays');
  t.equal(store.redeem(young.ticket), bob);
  t.equal(store.size, 0);
});

t.test('past maxTickets the oldest are evicted', async (t) => {
  const store = createTicketStore({ ttlMs: 60_000, maxTickets: 3 });
  const first = store.issue(alice);
  const rest = [store.issue(alice), store.issue(bob), store.issue(bob)];
  t.equal(store.size, 3);
  t.equal(store.redeem(first.ticket), null, 'evicted');
  for (const r of rest) t.ok(store.redeem(r.ticket));
});

t.test('unknown, empty and over-long tickets are refused', async (t) => {
  const store = createTicketStore();
  store.issue(alice);
  t.equal(store.redeem(''), null);
  t.equal(store.redeem('x'.repeat(65)), null);
  t.equal(store.redeem('A'.repeat(43)), null);
  t.equal(store.size, 1);
});

t.test('nonsense options are refused', async (t) => {
  t.throws(() => createTicketStore({ ttlMs: 0, maxTickets: 1 }), RangeError);
  t.throws(() => createTicketStore({ ttlMs: 1, maxTickets: 0 }), RangeError);
  t.throws(() => createTicketStore({ ttlMs: 1, maxTickets: 1.5 }), RangeError);
});
