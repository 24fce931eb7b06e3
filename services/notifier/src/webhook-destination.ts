// A callback subscription as a destination: each matching event POSTed as JSON, signed with the
// subscription's secret (callback-signature.ts), with the event id, type and seq in headers.
import type { StoredSubscription } from '@deploybus/store';
import {
  EVENT_ID_HEADER,
  EVENT_SEQ_HEADER,
  EVENT_TYPE_HEADER,
  SIGNATURE_HEADER,
  signCallback,
  SUBSCRIPTION_HEADER,
  TIMESTAMP_HEADER,
} from './callback-signature.js';
import type { Destination } from './destination.js';
import type { LogEvent } from './event-log.js';
import { expectSuccess, type HttpSender } from './http-sender.js';

export const USER_AGENT = 'deploybus-notifier/0.1.0';

/** The body of a callback: the event as the ledger holds it, and which subscription it is for. */
export function callbackBody(subscriptionId: string, event: LogEvent): string {
  return JSON.stringify({
    id: event.id,
    seq: event.seq,
    type: event.type,
    time: event.time,
    ...(event.deploymentId === undefined ? {} : { deploymentId: event.deploymentId }),
    ...(event.app === undefined ? {} : { app: event.app }),
    ...(event.env === undefined ? {} : { env: event.env }),
    subscription: subscriptionId,
    payload: event.payload,
  });
}

export function webhookDestination(subscription: StoredSubscription, sender: HttpSender, options: { timeoutMs: number; clock?: () => number }): Destination {
  const clock = options.clock ?? Date.now;
  return {
    id: subscription.id,
    filter: { types: subscription.events, app: subscription.app, env: subscription.env },
    async deliver(event, _attempt, signal) {
      const body = callbackBody(subscription.id, event);
      const timestamp = Math.floor(clock() / 1000);
      const answer = await sender.send(subscription.id, {
        url: subscription.url,
        timeoutMs: options.timeoutMs,
        signal,
        body,
        headers: {
          'content-type': 'application/json',
          'user-agent': USER_AGENT,
          [EVENT_ID_HEADER]: event.id,
          [EVENT_TYPE_HEADER]: event.type,
          [EVENT_SEQ_HEADER]: String(event.seq),
          [SUBSCRIPTION_HEADER]: subscription.id,
          [TIMESTAMP_HEADER]: String(timestamp),
          [SIGNATURE_HEADER]: signCallback(subscription.secret, timestamp, body),
        },
      });
      expectSuccess(subscription.id, answer);
    },
  };
}
