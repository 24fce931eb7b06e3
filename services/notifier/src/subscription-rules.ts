// The checks a new subscription passes before it is stored: fields first (pure; the error names the
// field), then its URL against the destination allow-list, DNS included.
import { randomBytes } from 'node:crypto';
import { nameSchema, type PayloadOf } from '@deploybus/protocol';
import { z } from 'zod';
import type { DestinationPolicy } from './destination-policy.js';
import { SubscriptionInvalidError } from './errors.js';
import { EVENT_PATTERN } from './event-patterns.js';

export const SUBSCRIPTION_ACTIONS = ['create', 'list', 'get', 'delete', 'enable'] as const;
export type SubscriptionAction = (typeof SUBSCRIPTION_ACTIONS)[number];
export const SUBSCRIPTION_ID = /^sub-[a-z0-9]{8,64}$/;

const createSchema = z.strictObject({
  action: z.literal('create'),
  url: z.string('is required: where to POST events').min(1, 'is required: where to POST events').max(2048, 'must be at most 2048 characters'),
  events: z
    .array(z.string().regex(EVENT_PATTERN, 'must be an event type ("deploy.succeeded"), a prefix ("deploy.*") or "*"'), 'is required: a list of event type patterns such as ["deploy.*"]')
    .min(1, 'needs at least one event type pattern')
    .max(32, 'at most 32 patterns'),
  app: nameSchema.optional(),
  env: nameSchema.optional(),
  secret: z
    .string()
    .min(16, 'must be 16 to 256 characters')
    .max(256, 'must be 16 to 256 characters')
    .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces')
    .optional(),
  description: z.string().max(512, 'must be at most 512 characters').optional(),
  by: z.string().min(1).max(128),
});

export interface CheckedSubscription {
  readonly url: string;
  readonly events: string[];
  readonly app: string | undefined;
  readonly env: string | undefined;
  readonly secret: string;
  /** True when the notifier made the secret (it is then shown once, in the answer). */
  readonly generatedSecret: boolean;
  readonly description: string | undefined;
  readonly createdBy: string;
}

/** Checks a create request; throws SubscriptionInvalidError or DestinationNotAllowedError naming the field. */
export async function checkNewSubscription(payload: PayloadOf<'subscription.requested'>, policy: DestinationPolicy): Promise<CheckedSubscription> {
  const parsed = createSchema.safeParse(stripUndefined(payload));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join('.') || 'request';
    const message = issue?.code === 'unrecognized_keys' ? `not a field of create (${issue.keys.join(', ')})` : (issue?.message ?? 'invalid');
    throw new SubscriptionInvalidError(issue?.code === 'unrecognized_keys' ? (issue.keys[0] ?? field) : field, message);
  }
  const p = parsed.data;
  await policy.check(p.url);
  return {
    url: p.url,
    events: [...new Set(p.events)],
    app: p.app,
    env: p.env,
    secret: p.secret ?? `whsec_${randomBytes(24).toString('base64url')}`,
    generatedSecret: p.secret === undefined,
    description: p.description,
    createdBy: p.by,
  };
}

export function newSubscriptionId(): string {
  return `sub-${randomBytes(8).toString('hex')}`;
}

function stripUndefined(value: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));
}
