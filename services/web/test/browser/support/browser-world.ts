// What every browser test of the web UI starts from: the whole system (startAllInOne on a fresh
// in-memory bus and data dir), waited on until keepalive knows the demo fleet, and Debian's Chromium
// driven by playwright-core. Pages record uncaught script errors; screenshots go to test-output/web-ui/.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { AllInOne } from '@deploybus/all-in-one';
import { waitFor } from '../../../../../packages/bus/test/support/wait-for.js';
import { startTestSystem } from '../../../../../all-in-one/test/support/test-system.js';

export const CHROMIUM = '/usr/bin/chromium';
export const SHOTS = fileURLToPath(new URL('../../../../../test-output/web-ui/', import.meta.url));
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];
const DEMO_HOSTS = ['stage1', 'web1', 'web2', 'web3'];

export interface BrowserWorld {
  readonly system: AllInOne;
  readonly browser: Browser;
  /** The web's base URL. */
  readonly base: string;
  /** Uncaught errors of every page opened with newPage. */
  readonly pageErrors: string[];
  /** The web API with the demo token (for setting up and waiting, never for what the UI must show); throws on a non-2xx answer. */
  api(method: string, path: string, body?: unknown): Promise<unknown>;
  newPage(viewport: { width: number; height: number }): Promise<{ context: BrowserContext; page: Page }>;
  shot(page: Page, name: string): Promise<void>;
  close(): Promise<void>;
}

export async function startBrowserWorld(name: string, options: { demoStepDelaySeconds: number }): Promise<BrowserWorld> {
  // Each demo hook pauses a little, so a rollout is visibly in progress in the live view.
  const started = await startTestSystem(name, { pollIntervalMs: 60_000, heartbeatIntervalMs: 300, demoStepDelaySeconds: options.demoStepDelaySeconds });
  const { system } = started;
  let browser: Browser | undefined;
  const close = async (): Promise<void> => {
    await browser?.close();
    await started.stop();
  };
  const base = system.webUrl;
  const api = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${system.credentials.token}`, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return text === '' ? undefined : JSON.parse(text);
  };
  try {
    // The demo fleet announces itself by heartbeats; the UI is only worth opening once keepalive knows it.
    await waitFor(
      'the web API to list the demo app with its four servers',
      async () => {
        const apps = (await api('GET', '/api/apps').catch(() => [])) as Array<{ app: string; hosts: string[] }>;
        return apps.some((a) => a.app === 'demo' && DEMO_HOSTS.every((h) => a.hosts.includes(h)));
      },
      30_000,
    );
    mkdirSync(SHOTS, { recursive: true });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
  } catch (error) {
    await close();
    throw error;
  }
  const chromiumBrowser = browser;
  const pageErrors: string[] = [];
  return {
    system,
    browser: chromiumBrowser,
    base,
    pageErrors,
    api,
    async newPage(viewport) {
      const context = await chromiumBrowser.newContext({ viewport });
      const page = await context.newPage();
      page.setDefaultTimeout(45_000);
      page.on('pageerror', (error) => pageErrors.push(error.message));
      return { context, page };
    },
    async shot(page, shotName) {
      await page.screenshot({ path: join(SHOTS, `${shotName}.png`), fullPage: true });
    },
    close,
  };
}
