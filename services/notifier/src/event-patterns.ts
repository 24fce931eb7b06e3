// Event type patterns of subscriptions and notifiers, the same syntax the conductor's event-log query
// takes: an exact type ("deploy.succeeded"), a prefix ("deploy.*": deploy.queued, deploy.host-result, ...)
// or "*" (everything). The conductor filters with them; the notifier checks again, so a subscription never
// gets an event it did not ask for, whatever the conductor's version.

export const EVENT_PATTERN = /^(\*|[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)*(\.\*)?)$/;

export function eventTypeMatches(patterns: readonly string[], type: string): boolean {
  return patterns.some((p) => p === '*' || p === type || (p.endsWith('.*') && type.startsWith(p.slice(0, -1))));
}
