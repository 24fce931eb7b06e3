// Answers subscription.requested on the notifier's shared queue: create (checked, stored, started at
// the end of the log so it gets what happens from now on), list, get, delete, enable. Every answer is a
// subscription.state to the requester; a refusal names the field.
import type { PayloadInputOf, PayloadOf } from '@deploybus/protocol';
import type { DeliveryPosition, StoredSubscription, SubscriptionStore } from '@deploybus/store';
import type { DeliveryScheduler } from './delivery-scheduler.js';
import type { DestinationPolicy } from './destination-policy.js';
import type { Destination } from './destination.js';
import { EventLogUnavailableError, NotifierError } from './errors.js';
import { checkNewSubscription, newSubscriptionId, SUBSCRIPTION_ACTIONS, SUBSCRIPTION_ID } from './subscription-rules.js';

type StateAnswer = PayloadInputOf<'subscription.state'>;
type View = NonNullable<StateAnswer['subscription']>;

export interface SubscriptionDesk {
  readonly store: SubscriptionStore;
  readonly scheduler: DeliveryScheduler;
  readonly policy: DestinationPolicy;
  readonly destinationOf: (subscription: StoredSubscription) => Destination;
}

export function viewOf(s: StoredSubscription, position: Pick<DeliveryPosition, 'cursor' | 'state' | 'failures' | 'lastError'> | undefined): View {
  return {
    id: s.id,
    url: s.url,
    events: [...s.events],
    ...(s.app === undefined ? {} : { app: s.app }),
    ...(s.env === undefined ? {} : { env: s.env }),
    ...(s.description === undefined ? {} : { description: s.description }),
    createdBy: s.createdBy,
    createdAt: s.createdAt,
    state: position?.state ?? 'active',
    cursor: position?.cursor ?? 0,
    failures: position?.failures ?? 0,
    ...(position?.lastError === undefined ? {} : { lastError: position.lastError }),
  };
}

export async function answerSubscriptionRequest(desk: SubscriptionDesk, p: PayloadOf<'subscription.requested'>): Promise<StateAnswer> {
  const { store, scheduler } = desk;
  const action = p.action as (typeof SUBSCRIPTION_ACTIONS)[number];
  if (!SUBSCRIPTION_ACTIONS.includes(action)) return refused('action', `must be one of ${SUBSCRIPTION_ACTIONS.join(', ')}`);
  // A standby notifier's memory lags the one delivering: it answers from the store.
  const current = async (s: StoredSubscription): Promise<View> => viewOf(s, (scheduler.active ? scheduler.status(s.id) : undefined) ?? (await store.position(s.id)));
  try {
    switch (action) {
      case 'create': {
        const checked = await checkNewSubscription(p, desk.policy);
        const subscription: StoredSubscription = {
          id: newSubscriptionId(),
          url: checked.url,
          events: checked.events,
          app: checked.app,
          env: checked.env,
          secret: checked.secret,
          description: checked.description,
          createdBy: checked.createdBy,
          createdAt: new Date().toISOString(),
        };
        if (!(await store.createSubscription(subscription, await scheduler.head()))) return refused('id', 'a subscription with this id exists; try again');
        await scheduler.add(desk.destinationOf(subscription));
        return { outcome: 'created', subscription: await current(subscription), ...(checked.generatedSecret ? { secret: checked.secret } : {}) };
      }
      case 'list': {
        const all = await store.subscriptions();
        return { outcome: 'listed', subscriptions: await Promise.all(all.map(current)) };
      }
      case 'get':
      case 'delete':
      case 'enable': {
        if (p.id === undefined || !SUBSCRIPTION_ID.test(p.id)) return refused('id', 'must be a subscription id ("sub-" and letters or digits)');
        const found = await store.subscription(p.id);
        if (found === undefined) return { outcome: 'not-found', error: `no subscription ${p.id}`, field: 'id' };
        if (action === 'get') return { outcome: 'found', subscription: await current(found) };
        if (action === 'delete') {
          scheduler.remove(found.id);
          await store.deleteSubscription(found.id);
          return { outcome: 'deleted', subscription: viewOf(found, undefined) };
        }
        // Stored too: when another notifier holds the delivery lease, it sees this and tries at once.
        const position = await store.position(found.id);
        if (position?.state === 'failing') await store.savePosition(found.id, { cursor: position.cursor, state: 'active', failures: 0, lastError: position.lastError, at: new Date() });
        scheduler.enable(found.id);
        return { outcome: 'enabled', subscription: await current(found) };
      }
    }
  } catch (error) {
    if (error instanceof NotifierError && 'field' in error && typeof error.field === 'string') return refused(error.field, error.message.replace(/^[^:]+: /, ''));
    // Without the event log's end a new subscription has no starting point: say so instead of timing out.
    if (error instanceof EventLogUnavailableError) return { outcome: 'unavailable', error: `${error.message}; try again`.slice(0, 2048) };
    throw error;
  }
}

function refused(field: string, problem: string): StateAnswer {
  return { outcome: 'refused', field, error: `${field}: ${problem}`.slice(0, 2048) };
}
