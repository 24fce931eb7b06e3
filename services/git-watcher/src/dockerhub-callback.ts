// Docker Hub's webhook callback: after a push is handled, POST its state to the payload's callback_url.
// The URL comes from an unsigned request, so it is only called on Docker Hub's own host (or a host the
// operator listed), without following redirects.

export const DOCKERHUB_CALLBACK_HOST = 'registry.hub.docker.com';

export interface DockerhubCallbackBody {
  readonly state: 'success' | 'failure' | 'error';
  readonly description: string;
  readonly context: string;
  readonly target_url: string;
}

export function callbackAllowed(url: string, extraHosts: readonly string[]): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.username !== '' || parsed.password !== '') return false;
  if (parsed.protocol === 'https:' && parsed.hostname === DOCKERHUB_CALLBACK_HOST && parsed.port === '') return true;
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return false;
  return extraHosts.includes(parsed.host) || (parsed.port === '' && extraHosts.includes(parsed.hostname));
}

export async function sendDockerhubCallback(url: string, body: DockerhubCallbackBody, timeoutMs = 5_000): Promise<void> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    redirect: 'error',
    signal: AbortSignal.timeout(timeoutMs),
  });
  await response.body?.cancel().catch(() => undefined);
  if (!response.ok) throw new Error(`callback answered HTTP ${response.status}`);
}
