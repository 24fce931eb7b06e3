// lock.requested -> the ledger's locks -> the lock.state payload to answer with. Any conductor may do
// this: the ledger is shared and lock/unlock are single statements there (insert-if-absent, and a
// conditional delete inside a transaction), so two conductors racing cannot both win.
import type { PayloadInputOf, PayloadOf } from '@deploybus/protocol';
import type { Ledger, Lock } from '@deploybus/store';

export type LockStatePayload = PayloadInputOf<'lock.state'>;

export async function handleLockRequest(ledger: Ledger, request: PayloadOf<'lock.requested'>, admins: readonly string[], now: Date = new Date()): Promise<LockStatePayload> {
  const scope = { env: request.env, ...(request.app === undefined ? {} : { app: request.app }), requestedBy: request.by };
  if (request.force && !admins.includes(request.by)) {
    const current = await exactLock(ledger, request.env, request.app);
    return { ...scope, ...held(current), outcome: 'refused', error: `${request.by} may not force a lock change; only the conductor's admins may` };
  }
  if (request.action === 'lock') {
    const result = await ledger.lock({ env: request.env, app: request.app, by: request.by, reason: request.reason ?? '', at: now });
    return { ...scope, ...held(result.lock), outcome: result.acquired ? 'locked' : 'already-locked' };
  }
  const result = await ledger.unlock(request.env, request.by, { app: request.app, force: request.force });
  switch (result.status) {
    case 'unlocked':
      return { ...scope, locked: false, outcome: 'unlocked' };
    case 'not-locked':
      return { ...scope, locked: false, outcome: 'not-locked' };
    case 'held-by-other':
      return { ...scope, ...held(result.lock), outcome: 'held-by-other' };
  }
}

/** The lock on exactly this env (app absent) or this app in env, not the env-wide one for an app. */
async function exactLock(ledger: Ledger, env: string, app: string | undefined): Promise<Lock | undefined> {
  return (await ledger.locks()).find((l) => l.env === env && l.app === app);
}

function held(lock: Lock | undefined): { locked: boolean; by?: string; reason?: string; since?: string } {
  if (lock === undefined) return { locked: false };
  return { locked: true, by: lock.by, ...(lock.reason === '' ? {} : { reason: lock.reason.slice(0, 2048) }), since: lock.at };
}
