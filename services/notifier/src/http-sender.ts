// The HTTP edge of deliveries: one POST (or other method) with a timeout, through the destination
// policy's checked DNS lookup, never following a redirect. Reads at most 64 KiB of the answer.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { DeliveryError } from './errors.js';
import type { DestinationPolicy } from './destination-policy.js';

export interface HttpRequest {
  readonly method?: 'POST' | 'GET' | 'PUT' | 'PATCH';
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

const MAX_ANSWER_BYTES = 64 * 1024;

export interface HttpSender {
  send(destination: string, request: HttpRequest): Promise<HttpAnswer>;
}

/** Sends through `policy`; a refused address, a timeout or a broken connection is a retriable DeliveryError. */
export function policyHttpSender(policy: DestinationPolicy): HttpSender {
  return {
    send(destination, r) {
      let url: URL;
      try {
        url = policy.checkUrl(r.url);
      } catch (error) {
        return Promise.reject(new DeliveryError(destination, (error as Error).message, false, undefined, { cause: error }));
      }
      const body = r.body === undefined ? undefined : Buffer.from(r.body, 'utf8');
      return new Promise<HttpAnswer>((resolve, reject) => {
        const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
        const req = send(url, {
          method: r.method ?? 'POST',
          headers: { ...r.headers, ...(body === undefined ? {} : { 'content-length': String(body.length) }) },
          lookup: policy.lookupFor(r.url),
          agent: false,
          ...(r.signal === undefined ? {} : { signal: r.signal }),
        });
        const timer = setTimeout(() => req.destroy(new DeliveryError(destination, `no answer within ${r.timeoutMs} ms`, true)), r.timeoutMs);
        req.on('error', (error) => {
          clearTimeout(timer);
          if (error instanceof DeliveryError) reject(error);
          else if (error.name === 'DestinationNotAllowedError') reject(new DeliveryError(destination, error.message, true, undefined, { cause: error }));
          else reject(new DeliveryError(destination, `${(error as NodeJS.ErrnoException).code ?? error.name}: ${error.message}`, true, undefined, { cause: error }));
        });
        req.on('response', (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            if (size < MAX_ANSWER_BYTES) chunks.push(chunk.subarray(0, MAX_ANSWER_BYTES - size));
            size += chunk.length;
          });
          res.on('end', () => {
            clearTimeout(timer);
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
          });
          res.on('error', (error) => {
            clearTimeout(timer);
            reject(new DeliveryError(destination, `answer broken off: ${error.message}`, true, undefined, { cause: error }));
          });
        });
        req.end(body);
      });
    },
  };
}

/** Turns a non-2xx answer into a DeliveryError: 3xx (redirects are not followed) and 4xx other than 408/429 are not retriable. */
export function expectSuccess(destination: string, answer: HttpAnswer): HttpAnswer {
  if (answer.status >= 200 && answer.status < 300) return answer;
  const snippet = answer.body.slice(0, 200).replace(/\s+/g, ' ').trim();
  if (answer.status >= 300 && answer.status < 400) {
    return fail(destination, `HTTP ${answer.status}: redirect to ${String(answer.headers.location ?? '(nowhere)').slice(0, 200)} not followed`, false, answer.status);
  }
  const retriable = answer.status >= 500 || answer.status === 408 || answer.status === 429;
  return fail(destination, `HTTP ${answer.status}${snippet === '' ? '' : `: ${snippet}`}`, retriable, answer.status);
}

function fail(destination: string, problem: string, retriable: boolean, status: number): never {
  throw new DeliveryError(destination, problem, retriable, status);
}
