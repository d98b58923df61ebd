// The wsq browser demo: everything goes through the @wsq/client bundle served beside it.
import { connect, fetchTicket } from './wsq-client.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
$('publisher').value = params.get('publisher') ?? `wss://${location.hostname}:8081/publish`;

let wsq;
let reconnects = 0;
let lastState = 'closed';

function showState(state) {
  if (state === 'open' && lastState === 'reconnecting') reconnects++;
  lastState = state;
  const el = $('state');
  el.dataset.state = state;
  el.dataset.reconnects = String(reconnects);
  el.textContent = reconnects > 0 ? `${state} (reconnected ${reconnects}×)` : state;
  for (const form of ['subscribe', 'publish']) $(form).querySelector('button').disabled = state === 'closed';
  $('connect').disabled = state !== 'closed';
  $('disconnect').disabled = state === 'closed';
}

function showError(err) {
  $('error').textContent = err ? `${err.code ?? 'ERROR'}: ${err.message}` : '';
}

function addRow(cells, className) {
  const tr = document.createElement('tr');
  if (className) tr.className = className;
  for (const text of cells) {
    const td = document.createElement('td');
    td.textContent = text;
    tr.append(td);
  }
  $('messages').append(tr);
}

$('login').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  showError();
  const user = $('user').value;
  const password = $('password').value;
  showState('connecting');
  try {
    wsq = await connect({
      publishUrl: $('publisher').value,
      subscribeUrl: `wss://${location.host}/subscribe`,
      // A fresh single-use ticket from the service each WebSocket is about to open.
      ticket: (wsUrl) => fetchTicket(new URL(wsUrl.replace(/^ws/, 'http')).origin, user, password),
    });
  } catch (err) {
    showState('closed');
    showError(err);
    return;
  }
  wsq.on('state', showState);
  wsq.on('error', showError);
  showState(wsq.state);
});

$('disconnect').addEventListener('click', () => wsq?.close());

$('subscribe').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  showError();
  let sub;
  try {
    sub = wsq.subscribe($('pattern').value);
  } catch (err) {
    showError(err);
    return;
  }
  sub.on('subscribed', ({ seq }) => {
    const el = $('subscribed');
    el.textContent = `subscribed to ${sub.pattern} (log at seq ${seq})`;
    el.dataset.pattern = sub.pattern;
  });
  sub.on('gap', (g) => addRow(['—', g.pattern, `gap: messages after seq ${g.since} are gone`], 'gap'));
  try {
    for await (const m of sub) addRow([String(m.seq), m.topic, JSON.stringify(m.data)]);
  } catch (err) {
    showError(err);
  }
});

$('publish').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  showError();
  try {
    const { seq } = await wsq.publish($('topic').value, $('text').value);
    $('acked').textContent = `acked, seq ${seq}`;
  } catch (err) {
    showError(err);
  }
});
