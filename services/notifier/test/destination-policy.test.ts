// The destination allow-list on its own: hosts, CIDRs, ports, schemes, private and special addresses,
// IPv6 and IPv4-mapped forms, and DNS answers (localhost resolves to loopback).
import { describe, expect, it } from 'vitest';
import { DestinationNotAllowedError, DestinationPolicy } from '../src/index.js';

const policy = (over: Partial<ConstructorParameters<typeof DestinationPolicy>[0]> = {}): DestinationPolicy =>
  new DestinationPolicy({ hosts: ['*'], cidrs: [], ports: [443], schemes: ['https'], ...over });

function refusal(p: DestinationPolicy, url: string): string {
  try {
    p.checkUrl(url);
  } catch (error) {
    expect(error).toBeInstanceOf(DestinationNotAllowedError);
    expect((error as DestinationNotAllowedError).field).toBe('url');
    return (error as Error).message;
  }
  return 'allowed';
}

describe('destination policy', () => {
  it('refuses private, loopback, link-local, CGNAT, reserved and multicast addresses, in every spelling', () => {
    const p = policy();
    for (const url of [
      'https://127.0.0.1/',
      'https://127.1.2.3/',
      'https://10.1.2.3/',
      'https://172.16.0.1/',
      'https://172.31.255.255/',
      'https://192.168.1.1/',
      'https://169.254.169.254/latest/meta-data',
      'https://100.64.0.1/',
      'https://0.0.0.0/',
      'https://224.0.0.1/',
      'https://[::1]/',
      'https://[::]/',
      'https://[fd00::1]/',
      'https://[fe80::1]/',
      'https://[::ffff:127.0.0.1]/',
      'https://[::ffff:10.0.0.1]/',
      'https://[::ffff:7f00:1]/', // the same, as URL parsing writes it
      'https://[::127.0.0.1]/', // IPv4-compatible
      'https://[::ffff:0:7f00:1]/', // IPv4-translated
      'https://[64:ff9b::a9fe:a9fe]/', // NAT64 of 169.254.169.254
      'https://[2002:7f00:1::]/', // 6to4
      'https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/', // Teredo
      'https://2130706433/', // 127.0.0.1 as one number: URL parsing normalises it
      'https://0x7f.1/',
    ]) {
      expect(refusal(p, url), url).toMatch(/private, loopback or reserved/);
    }
    expect(refusal(p, 'https://93.184.215.14/')).toBe('allowed');
    expect(refusal(p, 'https://[2606:4700::1111]/')).toBe('allowed');
    expect(refusal(p, 'https://172.32.0.1/')).toBe('allowed');
  });

  it('lets a configured CIDR reach private addresses, and only those', () => {
    const p = policy({ hosts: ['hooks.internal.example'], cidrs: ['10.20.0.0/16'], ports: 'any', schemes: ['http', 'https'] });
    expect(refusal(p, 'http://10.20.3.4:8080/hook')).toBe('allowed');
    expect(refusal(p, 'http://10.21.0.1/hook')).toMatch(/host 10\.21\.0\.1 is not in the allowed destinations/);
    expect(() => p.checkAddress('10.20.9.9', 'x')).not.toThrow();
    expect(() => p.checkAddress('10.30.0.1', 'x')).toThrow(/private/);
  });

  it('checks hosts, ports, schemes and credentials', () => {
    const p = policy({ hosts: ['*.example.com', 'exact.example.org'], ports: [443, 8443] });
    expect(refusal(p, 'https://hooks.example.com/')).toBe('allowed');
    expect(refusal(p, 'https://a.b.example.com:8443/')).toBe('allowed');
    expect(refusal(p, 'https://example.com/')).toMatch(/host example\.com is not in the allowed/);
    expect(refusal(p, 'https://evilexample.com/')).toMatch(/not in the allowed/);
    expect(refusal(p, 'https://exact.example.org/')).toBe('allowed');
    expect(refusal(p, 'https://sub.exact.example.org/')).toMatch(/not in the allowed/);
    expect(refusal(p, 'https://hooks.example.com:444/')).toMatch(/port 444 is not allowed/);
    expect(refusal(p, 'http://hooks.example.com/')).toMatch(/scheme http is not allowed/);
    expect(refusal(p, 'file:///etc/passwd')).toMatch(/scheme file is not allowed/);
    expect(refusal(p, 'https://u:p@hooks.example.com/')).toMatch(/credentials/);
    expect(refusal(p, '/relative')).toMatch(/not an absolute URL/);
  });

  it('resolves names and refuses one that points at a loopback address', async () => {
    const p = policy({ hosts: ['localhost'], ports: 'any', schemes: ['http'] });
    await expect(p.check('http://localhost:9/')).rejects.toThrow(/(127\.0\.0\.1|::1) is a private, loopback or reserved address/);
    await expect(policy({ ports: 'any', schemes: ['http'] }).check('http://no-such-host.invalid/')).rejects.toThrow(/does not resolve/);
    const allowed = policy({ hosts: ['localhost'], cidrs: ['127.0.0.0/8', '::1/128'], ports: 'any', schemes: ['http'] });
    await expect(allowed.check('http://localhost:9/')).resolves.toBeInstanceOf(URL);
  });

  it('refuses a CIDR that is not one, naming it', () => {
    expect(() => policy({ cidrs: ['10.0.0.0/8', '10.0.0.0/40'] })).toThrow(/destinations\.cidrs\[1\]/);
    expect(() => policy({ cidrs: ['example.com/8'] })).toThrow(/destinations\.cidrs\[0\]/);
  });
});
