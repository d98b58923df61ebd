/** Picks the client implementation for an endpoint's system. */
import { openNatsPublisher, openNatsSubscriber } from './nats-client.js';
import type {
  CloseHandler,
  DeliveryHandler,
  Endpoint,
  PublisherConn,
  PublishSetup,
  SubscriberConn,
} from './transport.js';
import { openWsqPublisher, openWsqSubscriber } from './wsq-client.js';

function isNats(ep: Endpoint): boolean {
  return ep.system === 'nats' || ep.system === 'jetstream';
}

export function openSubscriber(
  ep: Endpoint,
  onDelivery: DeliveryHandler,
  onClose: CloseHandler,
): Promise<SubscriberConn> {
  return isNats(ep) ? openNatsSubscriber(ep, onDelivery, onClose) : openWsqSubscriber(ep, onDelivery, onClose);
}

export function openPublisher(ep: Endpoint, onClose: CloseHandler, setup?: PublishSetup): Promise<PublisherConn> {
  return isNats(ep) ? openNatsPublisher(ep, onClose, setup) : openWsqPublisher(ep, onClose, setup);
}
