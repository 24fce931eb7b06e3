// Sign-in, sign-out and the UI shell over real HTTP: the login page and its errors, the Origin check,
// the session cookie's attributes, the page template filled in (HTML-escaped), redirects for browsers
// that are not signed in, the clear 500 when the UI is not installed, and assets with cache headers.
import { writeFile } from 'node:fs/promises';
import { get } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanUp } from '../../conductor/test/support/conductor-world.js';
import { PASSWORD, webWorld, type WebWorld } from './support/web-world.js';

afterEach(cleanUp);

const TEMPLATE = '<!doctype html><html><head><meta name="csrf-token" content="{{csrfToken}}"></head><body><span id="user">{{user}}</span><script src="/assets/app.js"></script></body></html>';

function postLogin(w: WebWorld, fields: Record<string, string>, headers: Record<string, string> = { origin: w.url }): Promise<Response> {
  return fetch(`${w.url}/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(fields).toString(), redirect: 'manual' });
}

describe('web: sign-in', () => {
  it('the login page; a wrong password or an empty field says what went wrong; success sets a strict HttpOnly cookie and redirects to next', async () => {
    const w = await webWorld();
    const page = await fetch(`${w.url}/login?next=/history`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await page.text();
    expect(html).toContain('<form method="post" action="/login">');
    expect(html).toContain('name="next" value="/history"');

    const wrong = await postLogin(w, { username: 'ada', password: 'nope' });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    const wrongHtml = await wrong.text();
    expect(wrongHtml).toContain('do not match a configured user');
    expect(wrongHtml).toContain('value="ada"');
    const unknown = await postLogin(w, { username: 'mallory', password: PASSWORD });
    expect(unknown.status).toBe(401);
    const empty = await postLogin(w, { username: 'ada', password: '' });
    expect(empty.status).toBe(400);
    expect(await empty.text()).toContain('Enter your password');

    const ok = await postLogin(w, { username: 'ada', password: PASSWORD, next: '/history' });
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe('/history');
    const cookie = ok.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^deploybus_session=v1\.[^;]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200; Expires=/);
    // An open redirect is not followed.
    const offsite = await postLogin(w, { username: 'ada', password: PASSWORD, next: '//evil.example.com/' });
    expect(offsite.headers.get('location')).toBe('/');
  });

  it('refuses a sign-in posted from another site (403); without Origin (a script) it is allowed', async () => {
    const w = await webWorld();
    const cross = await postLogin(w, { username: 'ada', password: PASSWORD }, { origin: 'http://evil.example.com' });
    expect(cross.status).toBe(403);
    expect(cross.headers.get('set-cookie')).toBeNull();
    expect(await cross.text()).toContain('another site');
    const script = await postLogin(w, { username: 'ada', password: PASSWORD }, {});
    expect(script.status).toBe(303);
  });

  it('after too many failures a user waits (429 with Retry-After), even with the right password', async () => {
    const w = await webWorld({ webConfig: { loginThrottle: { maxFailures: 2, windowMs: 60_000 } } });
    for (let i = 0; i < 2; i += 1) expect((await postLogin(w, { username: 'ada', password: 'guess' })).status).toBe(401);
    const blocked = await postLogin(w, { username: 'ada', password: PASSWORD });
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await blocked.text()).toContain('Too many failed sign-ins');
    expect(blocked.headers.get('set-cookie')).toBeNull();
  });

  it('logout clears the cookie and goes to /login', async () => {
    const w = await webWorld();
    const out = await fetch(`${w.url}/logout`, { method: 'POST', headers: { origin: w.url }, redirect: 'manual' });
    expect(out.status).toBe(303);
    expect(out.headers.get('location')).toBe('/login');
    expect(out.headers.get('set-cookie')).toMatch(/^deploybus_session=; Path=\/; HttpOnly; SameSite=Strict; Max-Age=0/);
    expect((await fetch(`${w.url}/logout`, { method: 'POST', headers: { origin: 'http://evil.example.com' }, redirect: 'manual' })).status).toBe(403);
  });
});

describe('web: UI shell', () => {
  it('sends a browser that is not signed in to /login and back; fills the template for a signed-in one', async () => {
    const w = await webWorld({ indexHtml: TEMPLATE });
    const anonymous = await fetch(`${w.url}/apps/shop/production`, { redirect: 'manual' });
    expect(anonymous.status).toBe(303);
    expect(anonymous.headers.get('location')).toBe('/login?next=%2Fapps%2Fshop%2Fproduction');
    const session = await w.signIn();
    for (const path of ['/', '/apps/shop/production', '/deploy', '/deploys/d-12345678', '/history', '/locks', '/roster']) {
      const page = await fetch(`${w.url}${path}`, { headers: { cookie: session.cookie }, redirect: 'manual' });
      expect(page.status, path).toBe(200);
      expect(page.headers.get('cache-control')).toBe('no-store');
      const html = await page.text();
      expect(html).toContain(`<meta name="csrf-token" content="${session.csrfToken}">`);
      expect(html).toContain('<span id="user">ada</span>');
    }
    // Signed in already: /login goes on to next.
    const again = await fetch(`${w.url}/login?next=/locks`, { headers: { cookie: session.cookie }, redirect: 'manual' });
    expect(again.status).toBe(303);
    expect(again.headers.get('location')).toBe('/locks');
  });

  it('HTML-escapes the user name in the page', async () => {
    const w = await webWorld({ indexHtml: TEMPLATE, webConfig: { users: [{ name: '<b>o\'brien</b>', password: { env: 'WEB_TEST_ADA_PASSWORD' } }] } });
    const login = await postLogin(w, { username: '<b>o\'brien</b>', password: PASSWORD });
    expect(login.status).toBe(303);
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const html = await (await fetch(`${w.url}/`, { headers: { cookie } })).text();
    expect(html).toContain('<span id="user">&lt;b&gt;o&#39;brien&lt;/b&gt;</span>');
  });

  it('a missing UI is a clear 500, not a crash; the API still works', async () => {
    const w = await webWorld();
    const session = await w.signIn();
    const page = await fetch(`${w.url}/`, { headers: { cookie: session.cookie } });
    expect(page.status).toBe(500);
    expect(await page.text()).toContain('the web UI is not installed');
    expect((await w.api('/api/session')).status).toBe(200);
  });

  it('serves assets publicly with their content type and an ETag; nothing outside the UI folder or hidden', async () => {
    const w = await webWorld({ indexHtml: TEMPLATE });
    await writeFile(join(w.uiDir, 'app.js'), 'console.log("hi");\n');
    await writeFile(join(w.uiDir, 'app.css'), 'body { color: red; }\n');
    await writeFile(join(w.uiDir, '.secret'), 'no');
    const js = await fetch(`${w.url}/assets/app.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).toBe('no-cache');
    expect(js.headers.get('x-content-type-options')).toBe('nosniff');
    expect(js.headers.get('content-security-policy')).toContain("script-src 'self';");
    const etag = js.headers.get('etag');
    expect(etag).toBeTruthy();
    expect(await js.text()).toBe('console.log("hi");\n');
    // node:http, not fetch: fetch adds "Cache-Control: no-cache" to a conditional request, which forbids a 304.
    const again = await new Promise<number>((resolve, reject) => {
      get(`${w.url}/assets/app.js`, { headers: { 'if-none-match': etag ?? '' } }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      }).on('error', reject);
    });
    expect(again).toBe(304);
    expect((await fetch(`${w.url}/assets/app.css`)).headers.get('content-type')).toBe('text/css; charset=utf-8');
    for (const path of ['/assets/.secret', '/assets/..%2fweb.json', '/assets/%2e%2e/web.json', '/assets/nope.js']) {
      expect((await fetch(`${w.url}${path}`)).status, path).toBe(404);
    }
  });
});
