/** Picks the client implementation for an endpoint's system. */
import { openNatsPublisher, openNatsSubscriber } from './nats-client.js';
import type { CloseHandler, DeliveryHandler, Endpoint, PublisherConn, SubscriberConn } from './transport.js';
import { openWsqPublisher, openWsqSubscriber } from './wsq-client.js';

export function openSubscriber(
  ep: Endpoint,
  onDelivery: DeliveryHandler,
  onClose: CloseHandler,
): Promise<SubscriberConn> {
  return ep.system === 'nats'
    ? openNatsSubscriber(ep, onDelivery, onClose)
    : openWsqSubscriber(ep, onDelivery, onClose);
}

export function openPublisher(ep: Endpoint, onClose: CloseHandler): Promise<PublisherConn> {
  return ep.system === 'nats' ? openNatsPublisher(ep, onClose) : openWsqPublisher(ep, onClose);
}
