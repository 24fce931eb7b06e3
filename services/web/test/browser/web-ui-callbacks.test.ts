// The Callbacks page end to end in real headless Chromium against startAllInOne (its notifier allows
// receivers on 127.0.0.1 only). A real HTTP receiver listens on 127.0.0.1; a person subscribes it to
// deploy.* for production through the page, with the secret the browser made and the page showed once,
// and the receiver gets the deploys' events signed with exactly that secret (checked here with our own
// HMAC, independent of the notifier's code). A second receiver refuses its first callback: the page shows
// the subscription failing with the error and its backlog, Re-enable brings it back and the backlog
// arrives in order; Delete removes it. URLs the notifier refuses (cloud metadata) and bad event patterns
// are refused on the page next to the field the API names. Screenshots go to test-output/web-ui/.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AllInOne } from '@deploybus/all-in-one';
import { waitFor } from '../../../../packages/bus/test/support/wait-for.js';
import { startBrowserWorld, type BrowserWorld } from './support/browser-world.js';

let world: BrowserWorld | undefined;
let system: AllInOne | undefined;
let receiver: Server | undefined;
let receiverBase = '';
let base = '';

/** One callback as the receiver got it: the raw body exactly as received, and the headers. */
interface Received {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly status: number;
}
const received: Received[] = [];
/** What the receiver answers, per path; /flaky refuses until the test says otherwise. */
const answers = new Map<string, number>([
  ['/good', 200],
  ['/flaky', 400],
]);

interface CallbackBody {
  readonly id: string;
  readonly seq: number;
  readonly type: string;
  readonly deploymentId?: string;
  readonly app?: string;
  readonly env?: string;
  readonly subscription: string;
}

async function api(method: string, path: string, body?: unknown): Promise<unknown> {
  if (world === undefined) throw new Error('the browser world did not start');
  return world.api(method, path, body);
}

/** The receiver's check, written from the documented scheme (not the notifier's code): v1=hex HMAC-SHA256(secret, "<ts>.<body>"). */
function signatureValid(secret: string, r: Received): boolean {
  const timestamp = r.headers['x-deploybus-timestamp'];
  const signature = r.headers['x-deploybus-signature'];
  if (typeof timestamp !== 'string' || typeof signature !== 'string' || !/^\d+$/.test(timestamp)) return false;
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return false;
  const expected = Buffer.from(`v1=${createHmac('sha256', secret).update(`${timestamp}.${r.body}`, 'utf8').digest('hex')}`);
  return signature.split(',').some((candidate) => {
    const given = Buffer.from(candidate.trim());
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

const bodies = (path: string, status = 200): CallbackBody[] => received.filter((r) => r.path === path && r.status === status).map((r) => JSON.parse(r.body) as CallbackBody);

async function deploy(env: string, ref: string): Promise<string> {
  const queued = (await api('POST', '/api/deploys', { app: 'demo', env, ref })) as { deploymentId: string };
  await waitFor(
    `the deploy of ${ref} to ${env} to succeed`,
    async () => {
      const d = (await api('GET', `/api/deploys/${encodeURIComponent(queued.deploymentId)}`)) as { state: string };
      if (d.state === 'failed' || d.state === 'cancelled') throw new Error(`the deploy of ${ref} to ${env} ended ${d.state}`);
      return d.state === 'succeeded';
    },
    90_000,
  );
  return queued.deploymentId;
}

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = req.url ?? '';
      const status = answers.get(path) ?? 404;
      received.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), status });
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'not now');
    });
  });
  await new Promise<void>((resolve) => receiver!.listen(0, '127.0.0.1', resolve));
  receiverBase = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;

  world = await startBrowserWorld('web-ui-callbacks', { demoStepDelaySeconds: 0.1 });
  system = world.system;
  base = world.base;
}, 120_000);

afterAll(async () => {
  await world?.close();
  await new Promise<void>((resolve) => (receiver ? receiver.close(() => resolve()) : resolve()));
}, 60_000);

async function shot(page: Page, name: string): Promise<void> {
  await world?.shot(page, name);
}

describe('web UI callbacks page in Chromium', () => {
  it('refuses a disallowed URL next to the field, subscribes a receiver that gets signed deploy events, shows a failing one, re-enables and deletes it', async () => {
    const { context, page } = await world!.newPage({ width: 1366, height: 900 });
    try {
      await walkThrough(page);
    } catch (error) {
      await shot(page, 'callbacks-failure').catch(() => undefined);
      throw error;
    }
    expect(world!.pageErrors).toEqual([]);
    await context.close();
  }, 300_000);
});

/** The text next to a control, found the way a screen reader finds it: through aria-describedby. */
async function fieldErrorOf(page: Page, label: string): Promise<string> {
  const control = page.getByLabel(label, { exact: true });
  expect(await control.getAttribute('aria-invalid')).toBe('true');
  const ids = ((await control.getAttribute('aria-describedby')) ?? '').split(' ').filter((x) => x !== '');
  const texts = await Promise.all(ids.map((id) => page.locator(`[id="${id}"].field-error`).allTextContents()));
  return texts.flat().join(' ');
}

/** Subscribes through the form with a browser-made secret; returns the id and the secret the page showed once. */
async function subscribe(page: Page, url: string, events: string, filter: { app?: string; env?: string }): Promise<{ id: string; secret: string }> {
  const form = page.getByRole('form', { name: 'New subscription' });
  await form.getByLabel('URL', { exact: true }).fill(url);
  await form.getByLabel('Event types', { exact: true }).fill(events);
  await form.getByLabel('Application', { exact: true }).fill(filter.app ?? '');
  await form.getByLabel('Environment', { exact: true }).fill(filter.env ?? '');
  expect(await form.getByRole('radio', { name: /Generate one in this browser/ }).isChecked()).toBe(true);
  await form.getByRole('button', { name: 'Subscribe' }).click();
  const panel = page.getByRole('region', { name: `Subscribed ${url}` });
  await panel.waitFor();
  const id = (await panel.getAttribute('data-subscription')) ?? '';
  const secret = await panel.getByLabel('Signing secret').inputValue();
  return { id, secret };
}

async function walkThrough(page: Page): Promise<void> {
  await page.goto(`${base}/callbacks`);
  await page.waitForURL(/\/login/);
  await page.getByLabel('User name').fill(system!.credentials.user);
  await page.getByLabel('Password').fill(system!.credentials.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Callbacks' }).waitFor();
  expect(await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Callbacks' }).getAttribute('aria-current')).toBe('page');
  await page.getByText('No subscriptions: nothing is sent anywhere.').waitFor();
  await shot(page, 'callbacks-01-empty');

  // ---- cloud metadata is not a destination: the notifier's refusal appears next to the URL field ----
  const form = page.getByRole('form', { name: 'New subscription' });
  await form.getByLabel('URL', { exact: true }).fill('http://169.254.169.254/latest/meta-data/');
  await form.getByRole('button', { name: 'Subscribe' }).click();
  await page.getByRole('alert').filter({ hasText: 'The subscription was refused.' }).waitFor();
  const urlError = await fieldErrorOf(page, 'URL');
  expect(urlError).toMatch(/^url: /);
  expect(urlError).toContain('169.254.169.254');
  await shot(page, 'callbacks-02-url-refused');

  // ---- a bad event pattern: the API names events.0, the page shows it at Event types ----
  await form.getByLabel('URL', { exact: true }).fill(`${receiverBase}/good`);
  await form.getByLabel('Event types', { exact: true }).fill('Deploy..started');
  await form.getByRole('button', { name: 'Subscribe' }).click();
  await page.getByRole('alert').filter({ hasText: 'See Event types.' }).waitFor();
  expect(await fieldErrorOf(page, 'Event types')).toMatch(/^events\.0: /);
  // The URL field's earlier complaint is gone.
  expect(await form.getByLabel('URL', { exact: true }).getAttribute('aria-invalid')).toBeNull();
  expect((await api('GET', '/api/subscriptions')) as unknown[]).toEqual([]);

  // ---- subscribe the good receiver to deploy.* in production; the secret is shown once ----
  const good = await subscribe(page, `${receiverBase}/good`, 'deploy.*', { app: 'demo', env: 'production' });
  expect(good.id).toMatch(/^sub-[a-z0-9]+$/);
  expect(good.secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
  const goodRow = page.locator(`tr[data-subscription="${good.id}"]`);
  await goodRow.getByText('active', { exact: true }).waitFor();
  expect(await goodRow.textContent()).toContain('demo / production');
  await shot(page, 'callbacks-03-secret-shown-once');
  await page.getByRole('button', { name: 'I have stored it' }).click();
  expect(await page.getByLabel('Signing secret').count()).toBe(0);
  // Nothing shows the secret again: not the page (text or any field), not after a reload, not the API.
  const secretShown = async (): Promise<boolean> => {
    const values = await page.locator('input').evaluateAll((inputs) => inputs.map((i) => (i as unknown as { value: string }).value));
    return values.includes(good.secret) || ((await page.locator('body').textContent()) ?? '').includes(good.secret);
  };
  expect(await secretShown()).toBe(false);
  await page.reload();
  await goodRow.getByText('active', { exact: true }).waitFor();
  expect(await secretShown()).toBe(false);
  expect(JSON.stringify(await api('GET', `/api/subscriptions/${good.id}`))).not.toContain(good.secret);

  // ---- a receiver that refuses at first, for deploy.succeeded anywhere ----
  const flaky = await subscribe(page, `${receiverBase}/flaky`, 'deploy.succeeded', {});
  expect(flaky.secret).not.toBe(good.secret);
  const flakyRow = page.locator(`tr[data-subscription="${flaky.id}"]`);
  await flakyRow.getByText('active', { exact: true }).waitFor();

  // ---- deploys: staging first (outside the good one's filter), then production ----
  const stagingId = await deploy('staging', 'v1.0.0');
  const productionId = await deploy('production', 'v1.1.0');
  await waitFor('the good receiver to get production deploy.succeeded', () => bodies('/good').some((b) => b.type === 'deploy.succeeded' && b.deploymentId === productionId), 60_000);

  const goodCalls = received.filter((r) => r.path === '/good');
  expect(goodCalls.length).toBeGreaterThanOrEqual(3);
  for (const call of goodCalls) {
    expect(signatureValid(good.secret, call), call.body).toBe(true);
    // The check can fail: another secret, or a body changed by one character, does not verify.
    expect(signatureValid(flaky.secret, call)).toBe(false);
    expect(signatureValid(good.secret, { ...call, body: call.body.replace('deploy', 'deplox') })).toBe(false);
    const body = JSON.parse(call.body) as CallbackBody;
    expect(call.headers['x-deploybus-subscription']).toBe(good.id);
    expect(call.headers['x-deploybus-event-type']).toBe(body.type);
    expect(call.headers['x-deploybus-event-id']).toBe(body.id);
    expect(body.subscription).toBe(good.id);
    expect(body.type).toMatch(/^deploy\./);
    expect(body.env).toBe('production');
    expect(body.app).toBe('demo');
  }
  // Events come in the event log's order; staging's never came (it precedes production's in the log).
  const goodBodies = bodies('/good');
  const seqs = goodBodies.map((b) => b.seq);
  expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
  expect(goodBodies.some((b) => b.deploymentId === stagingId)).toBe(false);
  expect(goodBodies.filter((b) => b.deploymentId === productionId).map((b) => b.type)).toEqual(expect.arrayContaining(['deploy.queued', 'deploy.started', 'deploy.succeeded']));

  // ---- the flaky receiver refused (400 is not retried): the page shows it failing, why, and what waits ----
  await flakyRow.getByText('failing', { exact: true }).waitFor({ timeout: 60_000 });
  await flakyRow.getByTestId('last-error').waitFor();
  expect((await flakyRow.getByTestId('last-error').textContent())?.length ?? 0).toBeGreaterThan(0);
  // Staging's and production's deploy.succeeded both wait (the refused one was never taken).
  await flakyRow.getByText('2 waiting').waitFor();
  await shot(page, 'callbacks-04-failing');
  expect(received.filter((r) => r.path === '/flaky' && r.status === 200)).toEqual([]);

  // ---- the receiver is fixed; Re-enable delivers the backlog in order and the subscription is active ----
  answers.set('/flaky', 200);
  await flakyRow.getByRole('button', { name: /^Re-enable/ }).click();
  await waitFor('the flaky receiver to take both deploy.succeeded', () => bodies('/flaky').filter((b) => b.type === 'deploy.succeeded').length >= 2, 60_000);
  const flakyTaken = bodies('/flaky');
  expect(flakyTaken.map((b) => b.deploymentId).slice(0, 2)).toEqual([stagingId, productionId]);
  for (const call of received.filter((r) => r.path === '/flaky' && r.status === 200)) expect(signatureValid(flaky.secret, call)).toBe(true);
  await flakyRow.getByText('active', { exact: true }).waitFor({ timeout: 30_000 });
  expect(await flakyRow.getByRole('button', { name: /^Re-enable/ }).count()).toBe(0);
  await shot(page, 'callbacks-05-re-enabled');

  // ---- delete it through the page ----
  page.once('dialog', (dialog) => void dialog.accept());
  await flakyRow.getByRole('button', { name: `Delete the subscription of ${receiverBase}/flaky` }).click();
  await page.getByText(`The subscription of ${receiverBase}/flaky is deleted.`).waitFor();
  await flakyRow.waitFor({ state: 'detached' });
  const left = (await api('GET', '/api/subscriptions')) as Array<{ id: string }>;
  expect(left.map((s) => s.id)).toEqual([good.id]);
  await shot(page, 'callbacks-06-deleted');

  // ---- one's own secret: checked on the page, then by the notifier (named field secret), then used ----
  await form.getByRole('radio', { name: 'Use my own' }).check();
  const ownSecret = form.getByLabel('Your secret', { exact: true });
  await form.getByLabel('URL', { exact: true }).fill(`${receiverBase}/good?own`);
  await form.getByLabel('Event types', { exact: true }).fill('deploy.failed');
  await ownSecret.fill('too short');
  await form.getByRole('button', { name: 'Subscribe' }).click();
  await page.getByRole('alert').filter({ hasText: 'Please fix the form.' }).waitFor();
  expect(await fieldErrorOf(page, 'Your secret')).toBe('Must be 16 to 256 characters.');
  await ownSecret.fill('a secret with spaces in it');
  await form.getByRole('button', { name: 'Subscribe' }).click();
  await page.getByRole('alert').filter({ hasText: 'See Your secret.' }).waitFor();
  expect(await fieldErrorOf(page, 'Your secret')).toMatch(/^secret: .*spaces/);
  await ownSecret.fill('own-secret-0123456789');
  await form.getByRole('button', { name: 'Subscribe' }).click();
  await page.getByText('Its callbacks are signed with the secret you gave.').waitFor();
  expect(await page.getByLabel('Signing secret').count()).toBe(0);
  const withOwn = ((await api('GET', '/api/subscriptions')) as Array<{ id: string; url: string; events: string[] }>).find((s) => s.url === `${receiverBase}/good?own`);
  expect(withOwn?.events).toEqual(['deploy.failed']);
  await page.locator(`tr[data-subscription="${withOwn?.id ?? ''}"]`).getByText('active', { exact: true }).waitFor();
}
