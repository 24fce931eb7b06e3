// @deploybus/web: the HTTP API, sign-in, the UI shell and the live event stream, as a daemon.
export { webDaemon, createWebDaemon, webConfigSchema, WEB_VERSION, DEFAULT_WEB_PORT, type WebConfig, type WebDaemonOptions } from './web.js';
export { createWebApp, type WebAppOptions } from './http-app.js';
export { Authenticator, secretsEqual, SESSION_COOKIE, CSRF_HEADER, type Principal, type AuthenticatorOptions, type Credential } from './auth.js';
export { BusGateway, type BusGatewayOptions, type RosterEntry } from './bus-gateway.js';
export { LiveEvents, LIVE_PATTERNS, eventMatches, typeMatches, sseFrame, type StreamEvent, type EventFilter } from './live-events.js';
export { UiShell, DEFAULT_UI_DIR } from './ui-shell.js';
export { loadOpenApi, OPENAPI_FILE } from './openapi.js';
export { mountRoutes, API_MODULES, type RouteModule } from './routes/index.js';
export { principalOf, param, type RouteContext } from './routes/route-context.js';
export { UI_PAGES } from './routes/ui.js';
export * from './errors.js';
export { listRoutes, openApiPath } from './route-list.js';
export { LoginThrottle, type LoginThrottleOptions } from './login-throttle.js';
