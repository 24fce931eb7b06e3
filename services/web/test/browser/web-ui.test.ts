// The web UI end to end in real headless Chromium (Debian's /usr/bin/chromium driven by playwright-core)
// against the whole system on the in-memory bus: startAllInOne (keepalive, conductor with its SQLite
// ledger, the demo repository with tags, a demo fleet of real deploy-agents, and the web daemon).
// A person signs in, deploys the newest tag to two of the three production servers, watches the rollout
// finish in the live view, sees the release matrix change (mixed versions), locks production and sees a
// deploy refused with the lock's reason. Screenshots go to test-output/web-ui/ (gitignored).
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AllInOne } from '@deploybus/all-in-one';
import { waitFor } from '../../../../packages/bus/test/support/wait-for.js';
import { startBrowserWorld, type BrowserWorld } from './support/browser-world.js';

let world: BrowserWorld | undefined;
let system: AllInOne | undefined;
let base = '';
let user = '';
let password = '';

/** JSON from the web API with the test's token (for waiting on the system, never for what the UI must show). */
async function apiGet(path: string): Promise<unknown> {
  return world?.api('GET', path).catch(() => undefined);
}

beforeAll(async () => {
  world = await startBrowserWorld('web-ui', { demoStepDelaySeconds: 0.3 });
  system = world.system;
  base = world.base;
  user = system.credentials.user;
  password = system.credentials.password;
}, 120_000);

afterAll(async () => {
  await world?.close();
}, 60_000);

async function shot(page: Page, name: string): Promise<void> {
  await world?.shot(page, name);
}

describe('web UI in Chromium', () => {
  it('signs in, deploys a tag to two servers live, shows the matrix change, refuses a deploy to a locked environment, rolls back, cancels, signs out', async () => {
    const { context, page } = await world!.newPage({ width: 1366, height: 860 });
    try {
      await walkThrough(page);
    } catch (error) {
      // What the page showed when a step failed, next to the step screenshots.
      await shot(page, 'failure').catch(() => undefined);
      throw error;
    }
    expect(world!.pageErrors).toEqual([]);
    await context.close();
  }, 240_000);
});

/** Everything a person does, in order; each step waits for what the page must show. */
async function walkThrough(page: Page): Promise<void> {
  // ---- sign in: the UI is behind the sign-in page ----
  await page.goto(`${base}/`);
  await page.waitForURL(/\/login/);
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Applications' }).waitFor();
  expect(await page.locator('#current-user').textContent()).toBe(user);
  const production = page.getByRole('region', { name: 'Application demo' }).getByRole('link', { name: /production/ });
  await production.waitFor();
  await shot(page, '01-overview');

  // ---- the release matrix before: nothing of demo runs in production yet ----
  await production.click();
  await page.waitForURL(/\/apps\/demo\/production$/);
  const matrix = page.getByRole('table', { name: 'Release matrix for demo in production' });
  for (const host of ['web1', 'web2', 'web3']) await matrix.locator(`tr[data-host="${host}"]`).getByText('nothing deployed').waitFor();
  const matrixPanel = page.getByRole('region', { name: 'Release matrix' });
  expect(await matrixPanel.getByText('mixed versions').count()).toBe(0);
  await shot(page, '02-matrix-before');

  // ---- the deploy form: newest tag first, two chosen servers, a confirm step ----
  // The demo's stand-in builds were announced: each production server's repo-updater fetched them and
  // its agent prepared the newest trees, which its heartbeats name. Waited for through the API; the
  // form must then say so.
  const newest = ((await apiGet('/api/apps/demo/tags')) as Array<{ name: string; sha: string }> | undefined)?.find((t) => t.name === 'v1.2.0')?.sha;
  expect(newest).toMatch(/^[0-9a-f]{40}$/);
  await waitFor('v1.2.0 prepared on web1, web2 and web3, as their heartbeats say', async () => {
    const roster = (await apiGet('/api/roster')) as Array<{ service: string; host: string; state: string; apps?: Array<{ app: string; prepared?: string[] }> }> | undefined;
    return ['web1', 'web2', 'web3'].every((host) => roster?.some((e) => e.service === 'deploy-agent' && e.host === host && e.state === 'up' && e.apps?.some((a) => a.app === 'demo' && a.prepared?.includes(newest ?? '') === true)) === true);
  }, 60_000);
  await page.getByRole('link', { name: 'Deploy…' }).click();
  await page.waitForURL(/\/deploy\?/);
  expect(await page.getByLabel('Application', { exact: true }).inputValue()).toBe('demo');
  expect(await page.getByLabel('Environment', { exact: true }).inputValue()).toBe('production');
  const tag = page.getByLabel('Tag', { exact: true });
  await page.locator('select[name="ref"]:not([disabled])').waitFor();
  const tagNames = await tag.locator('option').evaluateAll((options) => options.map((o) => (o as unknown as { value: string }).value));
  expect(tagNames).toEqual(['v1.2.0', 'v1.1.0', 'v1.0.0']);
  await tag.selectOption('v1.2.0');
  // Only production's servers are offered (stage1 serves staging).
  await page.getByRole('checkbox', { name: 'web3' }).waitFor();
  await page.getByTestId('prepared').getByText('Prepared on all 3 servers: the deploy moves a ready tree into place, no checkout.').waitFor();
  expect(await page.getByRole('checkbox', { name: 'stage1' }).count()).toBe(0);
  await page.getByRole('radio', { name: 'Chosen servers' }).check();
  await page.getByRole('checkbox', { name: 'web1' }).check();
  await page.getByRole('checkbox', { name: 'web2' }).check();
  await page.getByLabel('Batch size').fill('1');
  await shot(page, '03-deploy-form');
  await page.getByRole('button', { name: 'Review deploy' }).click();
  const confirm = page.getByRole('region', { name: 'Confirm deploy' });
  await confirm.getByText('web1, web2').waitFor();
  await shot(page, '04-confirm');
  await confirm.getByRole('button', { name: 'Deploy now' }).click();

  // ---- the live rollout view: per-host state, steps, log lines; no reload ----
  await page.waitForURL(/\/deploys\/[^/]+$/);
  const deploymentId = decodeURIComponent(new URL(page.url()).pathname.split('/').pop() ?? '');
  // The page was not reloaded: a marker set on the window before the deploy survives.
  await page.evaluate(() => ((globalThis as unknown as { __sameDocument: boolean }).__sameDocument = true));
  await page.getByRole('heading', { name: 'v1.2.0 → demo / production' }).waitFor();
  const hosts = page.getByRole('region', { name: 'Hosts' });
  await hosts.locator('tr[data-host="web1"]').waitFor();
  await shot(page, '05-deploy-live');
  const state = page.getByRole('status', { name: 'Deploy state' });
  await state.getByText('succeeded').waitFor({ timeout: 90_000 });
  expect(await page.evaluate(() => (globalThis as unknown as { __sameDocument?: boolean }).__sameDocument)).toBe(true);
  for (const host of ['web1', 'web2']) {
    const row = hosts.locator(`tr[data-host="${host}"]`);
    await row.getByText('succeeded').waitFor();
    // Step progress arrives only live (task.started / task.completed over SSE; the ledger keeps no steps).
    await row.locator('.step.ok').first().waitFor();
  }
  expect(await hosts.locator('tr[data-host="web3"]').count()).toBe(0);
  const log = page.getByRole('log', { name: 'Deploy log' });
  await log.locator('.log-line[data-host="web1"]').first().waitFor();
  await log.locator('.log-line[data-host="web2"]').first().waitFor();
  await shot(page, '06-deploy-finished');

  // The ledger agrees with what the page showed.
  const recorded = (await apiGet(`/api/deploys/${encodeURIComponent(deploymentId)}`)) as { state: string; requestedBy: string } | undefined;
  expect(recorded?.state).toBe('succeeded');
  expect(recorded?.requestedBy).toBe(user);

  // ---- the matrix after: web1 and web2 run v1.2.0, web3 does not: mixed versions are marked ----
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Overview' }).click();
  await page.getByRole('region', { name: 'Application demo' }).getByRole('link', { name: /production/ }).click();
  await page.waitForURL(/\/apps\/demo\/production$/);
  for (const host of ['web1', 'web2']) await matrix.locator(`tr[data-host="${host}"]`).getByText('v1.2.0', { exact: true }).waitFor();
  expect(await matrix.locator('tr[data-host="web3"]').textContent()).not.toContain('v1.2.0');
  // Two servers run v1.2.0 and one runs nothing: the environment is marked as running mixed versions.
  await matrixPanel.getByText('mixed versions').waitFor();
  expect(await matrixPanel.getByTestId('versions').textContent()).toBe('v1.2.0 ×2, nothing ×1');
  await page.getByRole('region', { name: 'Recent deploys' }).locator(`tr[data-deployment="${deploymentId}"]`).getByText('succeeded').waitFor();
  await shot(page, '07-matrix-after');

  // ---- history: who, what, result ----
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'History' }).click();
  const historyRow = page.locator(`tr[data-deployment="${deploymentId}"]`);
  await historyRow.waitFor();
  const historyText = await historyRow.textContent();
  expect(historyText).toContain(user);
  expect(historyText).toContain('v1.2.0');
  expect(historyText).toContain('succeeded');

  // ---- lock production with a reason (markup in it stays text) ----
  const reason = 'release freeze <b>311</b>';
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Locks' }).click();
  const lockForm = page.getByRole('form', { name: 'Lock an environment' });
  await lockForm.getByLabel('Environment').fill('production');
  await lockForm.getByLabel('Reason').fill(reason);
  await lockForm.getByRole('button', { name: 'Lock' }).click();
  await page.getByRole('button', { name: 'Unlock production' }).waitFor();
  const lockRow = page.locator('tr[data-env="production"]');
  expect(await lockRow.textContent()).toContain(reason);
  expect(await lockRow.textContent()).toContain(user);
  expect(await lockRow.locator('b').count()).toBe(0);
  await shot(page, '08-locked');

  // ---- a deploy to the locked environment is refused, and the page says why ----
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Deploy' }).click();
  await page.locator('select[name="ref"]:not([disabled])').waitFor();
  await page.getByLabel('Tag', { exact: true }).selectOption('v1.1.0');
  await page.getByRole('button', { name: 'Review deploy' }).click();
  await page.getByRole('region', { name: 'Confirm deploy' }).getByRole('button', { name: 'Deploy now' }).click();
  const refusal = page.getByRole('alert').filter({ hasText: 'Deploy refused' });
  await refusal.waitFor();
  expect(await refusal.textContent()).toContain('311');
  expect(page.url()).toMatch(/\/deploy$/);
  await shot(page, '09-deploy-refused');

  // ---- unlock again ----
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Locks' }).click();
  await page.getByRole('button', { name: 'Unlock production' }).click();
  await page.getByText('No locks: every environment takes deploys.').waitFor();

  // ---- deploy v1.1.0 to every production server, then roll back to v1.2.0 in one click ----
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Deploy' }).click();
  await page.locator('select[name="ref"]:not([disabled])').waitFor();
  await page.getByLabel('Tag', { exact: true }).selectOption('v1.1.0');
  expect(await page.getByRole('radio', { name: /All servers/ }).isChecked()).toBe(true);
  await page.getByRole('button', { name: 'Review deploy' }).click();
  await page.getByRole('region', { name: 'Confirm deploy' }).getByRole('button', { name: 'Deploy now' }).click();
  await page.waitForURL(/\/deploys\/[^/]+$/);
  const allServersId = decodeURIComponent(new URL(page.url()).pathname.split('/').pop() ?? '');
  expect(allServersId).not.toBe(deploymentId);
  await page.getByRole('status', { name: 'Deploy state' }).getByText('succeeded').waitFor({ timeout: 90_000 });
  for (const host of ['web1', 'web2', 'web3']) await page.getByRole('region', { name: 'Hosts' }).locator(`tr[data-host="${host}"]`).getByText('succeeded').waitFor();

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Overview' }).click();
  await page.getByRole('region', { name: 'Application demo' }).getByRole('link', { name: /production/ }).click();
  for (const host of ['web1', 'web2', 'web3']) await matrix.locator(`tr[data-host="${host}"]`).getByText('v1.1.0', { exact: true }).waitFor();
  expect(await matrixPanel.getByTestId('versions').textContent()).toBe('v1.1.0 ×3');
  expect(await matrixPanel.getByText('mixed versions').count()).toBe(0);

  page.once('dialog', (dialog) => void dialog.accept());
  await page.getByRole('button', { name: 'Roll back' }).click();
  await page.waitForURL((url) => /\/deploys\/[^/]+$/.test(url.pathname) && !url.pathname.endsWith(encodeURIComponent(allServersId)));
  await page.getByRole('heading', { name: 'v1.2.0 → demo / production' }).waitFor();
  await page.getByText(/^Rolling demo in production back from v1\.1\.0 \([0-9a-f]{10}\) to v1\.2\.0 \([0-9a-f]{10}\)\.$/).waitFor();
  await page.getByRole('status', { name: 'Deploy state' }).getByText('succeeded').waitFor({ timeout: 90_000 });
  await shot(page, '10-rollback-finished');

  // ---- the roster: every demo server's deploy-agent is up ----
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Roster' }).click();
  for (const host of ['stage1', 'web1', 'web2', 'web3']) await page.locator(`tr[data-host="${host}"][data-service="deploy-agent"]`).getByText('up', { exact: true }).waitFor();
  await shot(page, '11-roster');

  // ---- the overview after it all: production runs one version again; the recent deploys list all three ----
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Overview' }).click();
  await page.getByRole('region', { name: 'Application demo' }).getByRole('link', { name: /production/ }).getByText('v1.2.0 on 3 servers').waitFor();
  const recent = page.getByRole('region', { name: 'Recent deploys' });
  await recent.getByRole('link', { name: 'v1.1.0 → demo / production' }).waitFor();
  expect(await recent.getByRole('link', { name: 'v1.2.0 → demo / production' }).count()).toBe(2);
  await shot(page, '12-overview-after');

  // ---- cancel a running deploy: v1.0.0 in batches of one with a long pause, cancelled during the pause ----
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Deploy' }).click();
  await page.locator('select[name="ref"]:not([disabled])').waitFor();
  await page.getByLabel('Tag', { exact: true }).selectOption('v1.0.0');
  await page.getByLabel('Batch size').fill('1');
  await page.getByLabel('Pause between batches').fill('600');
  await page.getByRole('button', { name: 'Review deploy' }).click();
  const confirmPause = page.getByRole('region', { name: 'Confirm deploy' });
  await confirmPause.getByText('600 s between batches').waitFor();
  await confirmPause.getByRole('button', { name: 'Deploy now' }).click();
  await page.waitForURL(/\/deploys\/[^/]+$/);
  await page.getByRole('heading', { name: 'v1.0.0 → demo / production' }).waitFor();
  // The first batch finishes, then the rollout waits out its pause: the moment to cancel.
  const liveHosts = page.getByRole('region', { name: 'Hosts' });
  const finished = liveHosts.locator('tbody tr').filter({ hasText: 'succeeded' });
  await finished.first().waitFor();
  const firstHost = (await finished.first().getAttribute('data-host')) ?? '';
  expect(['web1', 'web2', 'web3']).toContain(firstHost);
  await page.getByRole('status', { name: 'Deploy state' }).getByText('running').waitFor();
  page.once('dialog', (dialog) => void dialog.accept());
  await page.getByRole('button', { name: 'Cancel deploy' }).click();
  await page.getByRole('status', { name: 'Deploy state' }).getByText('cancelled').waitFor({ timeout: 60_000 });
  for (const host of ['web1', 'web2', 'web3'].filter((h) => h !== firstHost)) {
    expect(await liveHosts.locator(`tr[data-host="${host}"]`).textContent()).toContain('skipped');
  }
  expect(await page.getByRole('button', { name: 'Cancel deploy' }).isVisible()).toBe(false);
  await shot(page, '13-deploy-cancelled');

  // ---- drift: the cancelled deploy left one server on v1.0.0 while the last deployed release is v1.2.0 ----
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Overview' }).click();
  await page.getByRole('region', { name: 'Application demo' }).getByRole('link', { name: /production/ }).click();
  const driftRow = matrix.locator(`tr[data-host="${firstHost}"]`);
  await driftRow.getByText('v1.0.0', { exact: true }).waitFor();
  await driftRow.getByText('drift').waitFor();
  await matrixPanel.getByText('mixed versions').waitFor();
  expect(await matrixPanel.getByTestId('versions').textContent()).toBe('v1.2.0 ×2, v1.0.0 ×1');
  await shot(page, '14-matrix-drift');

  // ---- the live roster: stage1's deploy-agent stops; keepalive reports it down and the pages show it ----
  const agent = system?.daemons.get('deploy-agent-stage1');
  expect(agent).toBeDefined();
  await agent?.stop();
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Roster' }).click();
  await page.locator('tr[data-host="stage1"][data-service="deploy-agent"]').getByText('down', { exact: true }).waitFor({ timeout: 60_000 });
  await page.locator('tr[data-host="web1"][data-service="deploy-agent"]').getByText('up', { exact: true }).waitFor();
  await shot(page, '15-roster-down');
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Overview' }).click();
  const fleet = page.getByRole('region', { name: 'Fleet' });
  await fleet.getByText('1 down').waitFor();
  await fleet.getByText('Silent: deploy-agent@stage1').waitFor();

  // ---- sign out: the session is gone, the UI is behind the sign-in page again ----
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(/\/login$/);
  await page.goto(`${base}/history`);
  await page.waitForURL(/\/login\?next=/);
  await page.getByLabel('User name').waitFor();
}
