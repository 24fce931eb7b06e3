// The allow-list of callback destinations, so a subscription cannot be used to reach internal addresses
// the operator has not allowed (SSRF). A URL passes when its scheme and port are allowed, its host matches
// a host pattern (or is an IP inside an allowed CIDR), and every address the host resolves to is public
// or inside an allowed CIDR. The check runs twice: when a subscription is made (a clear error), and as
// the `lookup` of every connection, so the address connected to is the address checked (a DNS answer
// that changes between the two cannot smuggle a private address in). Redirects are never followed.
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { lookup as dnsLookup } from 'node:dns/promises';
import { DestinationNotAllowedError } from './errors.js';

export interface DestinationRules {
  /** Host patterns: "hooks.example.com", "*.example.com" (subdomains), "*" (any host with public addresses). */
  readonly hosts: readonly string[];
  /** CIDRs whose addresses are allowed even when private or loopback, e.g. "10.20.0.0/16", "127.0.0.1/32". */
  readonly cidrs: readonly string[];
  /** Allowed ports, or "any". */
  readonly ports: readonly number[] | 'any';
  readonly schemes: readonly ('http' | 'https')[];
}

/**
 * Addresses never reached unless a CIDR allows them: private, loopback, link-local (cloud metadata), CGNAT,
 * multicast, reserved. IPv6 forms that carry an IPv4 address are refused whole, whatever they carry:
 * IPv4-compatible (::/96, deprecated), IPv4-translated (::ffff:0:0:0/96), NAT64 (64:ff9b::/96), 6to4
 * (2002::/16) and Teredo (2001::/32) reach IPv4 through a translator or relay where one is set up, so
 * "public" could not be judged from the IPv6 address. IPv4-mapped (::ffff:a.b.c.d) is checked as its IPv4 address.
 */
const SPECIAL_V4 = ['0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12', '192.0.0.0/24', '192.0.2.0/24', '192.88.99.0/24', '192.168.0.0/16', '198.18.0.0/15', '198.51.100.0/24', '203.0.113.0/24', '224.0.0.0/4', '240.0.0.0/4'];
const SPECIAL_V6 = ['::/96', '::ffff:0:0:0/96', '64:ff9b::/96', '100::/64', '2001::/32', '2001:db8::/32', '2002::/16', 'fc00::/7', 'fe80::/10', 'ff00::/8'];

function blockListOf(cidrs: readonly string[], field: string): BlockList {
  const list = new BlockList();
  for (const [i, cidr] of cidrs.entries()) {
    const match = /^([^/]+)\/(\d{1,3})$/.exec(cidr.trim());
    const family = match?.[1] === undefined ? 0 : isIP(match[1]);
    const prefix = Number(match?.[2]);
    if (match?.[1] === undefined || family === 0 || prefix > (family === 4 ? 32 : 128)) throw new RangeError(`${field}[${i}]: ${JSON.stringify(cidr)} is not a CIDR such as 10.0.0.0/8 or fd00::/8`);
    list.addSubnet(match[1], prefix, family === 4 ? 'ipv4' : 'ipv6');
  }
  return list;
}

const special = (() => {
  const list = blockListOf(SPECIAL_V4, 'special');
  for (const cidr of SPECIAL_V6) {
    const [address = '', prefix = '0'] = cidr.split('/');
    list.addSubnet(address, Number(prefix), 'ipv6');
  }
  return list;
})();

/** An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is checked as the IPv4 address it carries. */
function normalise(address: string): { address: string; family: 'ipv4' | 'ipv6' } {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1] !== undefined) return { address: mapped[1], family: 'ipv4' };
  return { address, family: isIP(address) === 6 ? 'ipv6' : 'ipv4' };
}

function hostMatches(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase();
  if (p === '*') return true;
  if (p.startsWith('*.')) return host.endsWith(p.slice(1)) && host.length > p.length - 1;
  return host === p;
}

export class DestinationPolicy {
  readonly #rules: DestinationRules;
  readonly #allowedCidrs: BlockList;

  /** Throws RangeError naming the bad CIDR (config is checked at start). */
  constructor(rules: DestinationRules) {
    this.#rules = rules;
    this.#allowedCidrs = blockListOf(rules.cidrs, 'destinations.cidrs');
  }

  /** A policy for URLs the operator wrote in the config (Slack, GitHub, Jenkins): trusted, any address. */
  static operatorTrusted(): DestinationPolicy {
    return new DestinationPolicy({ hosts: ['*'], cidrs: ['0.0.0.0/0', '::/0'], ports: 'any', schemes: ['http', 'https'] });
  }

  /** Checks the URL's form, scheme, port and host (and an IP literal's address), without DNS. */
  checkUrl(raw: string): URL {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new DestinationNotAllowedError(raw, `${JSON.stringify(raw.slice(0, 200))} is not an absolute URL`);
    }
    const scheme = url.protocol.replace(/:$/, '');
    if (!(this.#rules.schemes as readonly string[]).includes(scheme)) throw new DestinationNotAllowedError(raw, `scheme ${scheme} is not allowed (allowed: ${this.#rules.schemes.join(', ')})`);
    if (url.username !== '' || url.password !== '') throw new DestinationNotAllowedError(raw, 'credentials in the URL are not allowed; use the subscription secret');
    const port = url.port === '' ? (scheme === 'https' ? 443 : 80) : Number(url.port);
    if (this.#rules.ports !== 'any' && !this.#rules.ports.includes(port)) throw new DestinationNotAllowedError(raw, `port ${port} is not allowed (allowed: ${this.#rules.ports.join(', ')})`);
    const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
    if (isIP(host) !== 0) {
      const { address, family } = normalise(host);
      const inCidr = this.#allowedCidrs.check(address, family);
      if (!inCidr && !this.#rules.hosts.some((p) => p === '*' || p.toLowerCase() === host)) throw new DestinationNotAllowedError(raw, `host ${host} is not in the allowed destinations`);
      this.checkAddress(host, raw);
      return url;
    }
    if (!this.#rules.hosts.some((p) => hostMatches(p, host))) throw new DestinationNotAllowedError(raw, `host ${host} is not in the allowed destinations`);
    return url;
  }

  /** Throws unless the address is public or inside an allowed CIDR. */
  checkAddress(rawAddress: string, url: string): void {
    const { address, family } = normalise(rawAddress);
    if (this.#allowedCidrs.check(address, family)) return;
    if (special.check(address, family)) throw new DestinationNotAllowedError(url, `${rawAddress} is a private, loopback or reserved address the notifier is not allowed to reach`);
  }

  /** Full check, DNS included: every address the host resolves to must be allowed. */
  async check(raw: string): Promise<URL> {
    const url = this.checkUrl(raw);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host) !== 0) return url;
    let addresses: { address: string }[];
    try {
      addresses = await dnsLookup(host, { all: true, verbatim: true });
    } catch (error) {
      throw new DestinationNotAllowedError(raw, `host ${host} does not resolve (${(error as NodeJS.ErrnoException).code ?? 'DNS error'})`);
    }
    for (const a of addresses) this.checkAddress(a.address, raw);
    return url;
  }

  /** A `lookup` for http(s).request: resolves, refuses the connection unless every address is allowed. */
  lookupFor(url: string): LookupFunction {
    return (hostname, options, callback) => {
      dnsLookup(hostname, { all: true, verbatim: true, family: options.family ?? 0 }).then(
        (addresses) => {
          try {
            for (const a of addresses) this.checkAddress(a.address, url);
          } catch (error) {
            callback(error as NodeJS.ErrnoException, '', 0);
            return;
          }
          if (options.all === true) callback(null, addresses as never);
          else callback(null, addresses[0]?.address ?? '', addresses[0]?.family ?? 4);
        },
        (error: NodeJS.ErrnoException) => callback(error, '', 0),
      );
    };
  }
}
