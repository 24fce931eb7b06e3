// Who is asking. Two ways in, both checked on every request because the web holds no state:
// - `Authorization: Bearer <token>`: a configured token; its name is who asked.
// - the session cookie: `v1.<payload>.<signature>`, an HMAC-SHA256 over the payload (user, expiry,
//   nonce) with a key derived from `sessionSecret`. Any web instance sharing the secret accepts it,
//   so instances behind a load balancer need no shared store. A cookie-authenticated change must
//   also carry the CSRF token, an HMAC of the session payload under a second derived key: a page
//   of this origin can read it (meta tag, /api/session), another site cannot.
// Every secret comparison is constant-time (both sides hashed first, so lengths do not leak either).
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import { CsrfError, UnauthenticatedError } from './errors.js';

export const SESSION_COOKIE = 'deploybus_session';
export const CSRF_HEADER = 'x-csrf-token';

export interface Principal {
  /** The user or token name: what requests record as requestedBy / by. */
  readonly name: string;
  readonly via: 'session' | 'token';
  /** Cookie sessions only: the token that non-GET requests must echo in X-CSRF-Token. */
  readonly csrfToken?: string;
}

export interface Credential {
  readonly name: string;
  readonly secret: string;
}

export interface AuthenticatorOptions {
  readonly users: readonly Credential[];
  readonly tokens: readonly Credential[];
  readonly sessionSecret: string;
  readonly sessionTtlMs: number;
  readonly now?: () => number;
}

interface SessionPayload {
  readonly u: string;
  /** Expiry, ms since the epoch. */
  readonly e: number;
  /** Makes each sign-in's cookie (and CSRF token) distinct. */
  readonly n: string;
}

/** Compares two secrets in time that depends on neither (sha256 first: timingSafeEqual needs equal lengths). */
export function secretsEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a, 'utf8').digest();
  const hb = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(ha, hb);
}

const b64url = (data: Buffer | string): string => Buffer.from(data).toString('base64url');

export class Authenticator {
  readonly #users: readonly Credential[];
  readonly #tokens: readonly Credential[];
  readonly #sessionKey: Buffer;
  readonly #csrfKey: Buffer;
  readonly #ttlMs: number;
  readonly #now: () => number;

  constructor(options: AuthenticatorOptions) {
    this.#users = options.users;
    this.#tokens = options.tokens;
    // Two keys from one secret, so a CSRF token can never pass for a cookie signature or the other way round.
    this.#sessionKey = createHmac('sha256', options.sessionSecret).update('deploybus session cookie v1').digest();
    this.#csrfKey = createHmac('sha256', options.sessionSecret).update('deploybus csrf token v1').digest();
    this.#ttlMs = options.sessionTtlMs;
    this.#now = options.now ?? Date.now;
  }

  get sessionTtlMs(): number {
    return this.#ttlMs;
  }

  /** The user's name when the password is right. Every configured user is compared, so timing says nothing of which names exist. */
  checkPassword(name: string, password: string): string | undefined {
    let found: string | undefined;
    for (const user of this.#users) {
      const nameOk = secretsEqual(user.name, name);
      const passwordOk = secretsEqual(user.secret, password);
      if (nameOk && passwordOk) found = user.name;
    }
    return found;
  }

  /** The token's name when it is a configured token. */
  checkToken(token: string): string | undefined {
    let found: string | undefined;
    for (const t of this.#tokens) if (secretsEqual(t.secret, token)) found = t.name;
    return found;
  }

  /** A fresh signed session cookie value for `user`. */
  issueSession(user: string): string {
    const payload: SessionPayload = { u: user, e: this.#now() + this.#ttlMs, n: randomBytes(12).toString('base64url') };
    const body = b64url(JSON.stringify(payload));
    return `v1.${body}.${this.#sign(body)}`;
  }

  /** Reads a session cookie value; throws UnauthenticatedError saying what is wrong with it. */
  readSession(value: string): { user: string; csrfToken: string; expiresAt: number } {
    const parts = value.split('.');
    const [version, body, signature] = parts;
    if (parts.length !== 3 || version !== 'v1' || body === undefined || signature === undefined || body === '') {
      throw new UnauthenticatedError('the session cookie is malformed; sign in again');
    }
    if (!secretsEqual(this.#sign(body), signature)) throw new UnauthenticatedError('the session cookie is not signed by this server (forged, altered, or the session secret changed); sign in again');
    let payload: SessionPayload;
    try {
      payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as SessionPayload;
    } catch {
      throw new UnauthenticatedError('the session cookie is malformed; sign in again');
    }
    if (typeof payload.u !== 'string' || typeof payload.e !== 'number' || typeof payload.n !== 'string') throw new UnauthenticatedError('the session cookie is malformed; sign in again');
    if (payload.e <= this.#now()) throw new UnauthenticatedError('the session has expired; sign in again');
    // A user removed from the config loses access at once, session or not.
    if (!this.#users.some((u) => u.name === payload.u)) throw new UnauthenticatedError(`user ${payload.u} is no longer configured; sign in as someone else`);
    return { user: payload.u, csrfToken: b64url(createHmac('sha256', this.#csrfKey).update(body).digest()), expiresAt: payload.e };
  }

  /**
   * Who sent the request: a bearer token wins; else the session cookie, with the CSRF token checked on
   * anything but GET/HEAD/OPTIONS. Throws UnauthenticatedError (401) or CsrfError (403).
   */
  authenticate(req: Request): Principal {
    const authorization = req.headers.authorization;
    // An empty header (some clients send one when no token is set) counts as none.
    if (authorization !== undefined && authorization.trim() !== '') {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
      if (match?.[1] === undefined) throw new UnauthenticatedError('the Authorization header must be "Bearer <token>"');
      const name = this.checkToken(match[1]);
      if (name === undefined) throw new UnauthenticatedError('the bearer token is not one this server accepts');
      return { name, via: 'token' };
    }
    const cookie = cookieValue(req, SESSION_COOKIE);
    if (cookie === undefined) throw new UnauthenticatedError('sign in at /login, or send "Authorization: Bearer <token>"');
    const session = this.readSession(cookie);
    if (!['GET', 'HEAD', 'OPTIONS'].includes(req.method)) {
      const header = req.headers[CSRF_HEADER];
      const sent = Array.isArray(header) ? header[0] : header;
      if (sent === undefined || sent === '') throw new CsrfError(`a ${req.method} with the session cookie needs the X-CSRF-Token header (GET /api/session gives the token)`);
      if (!secretsEqual(sent, session.csrfToken)) throw new CsrfError('the X-CSRF-Token header does not match this session; reload the page');
    }
    return { name: session.user, via: 'session', csrfToken: session.csrfToken };
  }

  #sign(body: string): string {
    return b64url(createHmac('sha256', this.#sessionKey).update(body).digest());
  }
}

/** One cookie's value from the Cookie header (no dependency needed for this much). */
export function cookieValue(req: Request, name: string): string | undefined {
  const header = req.headers.cookie;
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    const raw = part.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
    try {
      return decodeURIComponent(raw);
    } catch {
      return raw;
    }
  }
  return undefined;
}

/** The Set-Cookie value of a session (HttpOnly, SameSite=Strict, Path=/, with its expiry). */
export function sessionCookie(value: string, maxAgeMs: number, secure: boolean): string {
  const maxAge = Math.max(0, Math.floor(maxAgeMs / 1000));
  const expires = new Date(Date.now() + maxAge * 1000).toUTCString();
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}; Expires=${expires}${secure ? '; Secure' : ''}`;
}

export function clearedSessionCookie(secure: boolean): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT${secure ? '; Secure' : ''}`;
}
