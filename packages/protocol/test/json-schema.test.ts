// The generated JSON Schemas: usable by a standard validator (ajv), agreeing with the zod schemas,
// and committed fresh together with docs/protocol.md.
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, describe, expect, it } from 'vitest';
import { envelopeJsonSchema, exampleMessage, messageJsonSchema, messageSpecs, type MessageSpec } from '../src/index.js';
import { checkGenerated, DOC_PATH, generatedFiles, SCHEMA_DIR, writeGenerated } from '../src/generate.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

// Formats are checked by the patterns zod emits next to them; ajv only needs to know the names.
const ajv = new Ajv2020({ strict: true, allErrors: true, formats: { 'date-time': true, uri: true } });

function committedSchema(name: string): unknown {
  return JSON.parse(readFileSync(join(repoRoot, SCHEMA_DIR, `${name}.json`), 'utf8'));
}

function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

describe('generated JSON Schemas', () => {
  const envelope = ajv.compile(committedSchema('envelope') as object);

  it.each(messageSpecs.map((spec) => [spec.type, spec] as const))('%s: the example validates, a bad payload does not', (type, spec: MessageSpec) => {
    const validate = ajv.compile(committedSchema(type) as object);
    const example = exampleMessage(spec);
    expect(validate(example), JSON.stringify(validate.errors)).toBe(true);
    expect(envelope(example), JSON.stringify(envelope.errors)).toBe(true);

    const wrongType = clone(example) as { payload: Record<string, unknown> };
    const firstField = Object.keys(wrongType.payload)[0] ?? '';
    wrongType.payload[firstField] = { not: 'this' };
    expect(validate(wrongType)).toBe(false);

    const otherType = { ...clone(example), type: 'no.such.type' };
    expect(validate(otherType)).toBe(false);
  });

  it('refuses hostile refs and names as the zod schemas do', () => {
    const spec = messageSpecs.find((s) => s.type === 'deploy.requested');
    if (spec === undefined) throw new Error('deploy.requested is missing from the catalog');
    const validate = ajv.compile(committedSchema('deploy.requested') as object);
    const example = exampleMessage(spec) as unknown as { payload: Record<string, unknown>; source: Record<string, unknown> };
    for (const ref of ['--upload-pack=touch /tmp/x', '$(touch /tmp/x)', 'a..b', 'x.lock', 'refs/heads/.x', 'main\n']) {
      expect(validate({ ...example, payload: { ...example.payload, ref } }), ref).toBe(false);
    }
    expect(validate({ ...example, payload: { ...example.payload, app: '../etc' } })).toBe(false);
    expect(validate({ ...example, source: { ...example.source, host: '$(x)' } })).toBe(false);
    expect(validate({ ...example, v: 2 })).toBe(false);
    // A pause past a day (and past what a Node timer can wait: 2^31-1 ms would fire at once) is refused.
    const rollout = example.payload['rollout'] as Record<string, unknown>;
    expect(validate({ ...example, payload: { ...example.payload, rollout: { ...rollout, pauseMs: 30 * 86_400_000 } } })).toBe(false);
    expect(validate({ ...example, payload: { ...example.payload, rollout: { ...rollout, pauseMs: 86_400_000 } } })).toBe(true);
  });

  it('requires a signature and expiresAt on agent commands', () => {
    const spec = messageSpecs.find((s) => s.signedCommand === true);
    if (spec === undefined) throw new Error('no signed command in the catalog');
    const validate = ajv.compile(committedSchema(spec.type) as object);
    const { signature: _signature, ...unsigned } = exampleMessage(spec);
    expect(validate(unsigned)).toBe(false);
    const { expiresAt: _expiresAt, ...noExpiry } = exampleMessage(spec);
    expect(validate(noExpiry)).toBe(false);
  });

  it('lets defaulted fields be left out and unknown fields through (a minor version may add them)', () => {
    const spec = messageSpecs.find((s) => s.type === 'deploy.requested');
    if (spec === undefined) throw new Error('deploy.requested is missing from the catalog');
    const validate = ajv.compile(messageJsonSchema(spec) as object);
    const example = clone(exampleMessage(spec)) as unknown as Record<string, Record<string, unknown>>;
    delete example['payload']?.['rollout'];
    delete example['payload']?.['force'];
    (example as Record<string, unknown>)['addedInV1_1'] = true;
    expect(validate(example), JSON.stringify(validate.errors)).toBe(true);
  });

  it('describes the envelope on its own', () => {
    expect(envelopeJsonSchema()).toMatchObject({ title: 'deploybus envelope', required: expect.arrayContaining(['v', 'id', 'type', 'time', 'source', 'payload']) });
  });
});

describe('generate / --check', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'deploybus-generate-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('finds the committed files up to date', () => {
    expect(checkGenerated(repoRoot)).toEqual([]);
  });

  it('names each missing, stale and leftover file, and writing fixes them', () => {
    expect(checkGenerated(scratch)).toHaveLength(generatedFiles().length);
    writeGenerated(scratch);
    expect(checkGenerated(scratch)).toEqual([]);

    writeFileSync(join(scratch, SCHEMA_DIR, 'deploy.requested.json'), '{}\n');
    writeFileSync(join(scratch, SCHEMA_DIR, 'deploy.removed-type.json'), '{}\n');
    unlinkSync(join(scratch, DOC_PATH));
    expect(checkGenerated(scratch)).toEqual([
      { path: `${SCHEMA_DIR}/deploy.requested.json`, problem: 'stale' },
      { path: DOC_PATH, problem: 'missing' },
      { path: `${SCHEMA_DIR}/deploy.removed-type.json`, problem: 'extra' },
    ]);

    writeGenerated(scratch);
    expect(checkGenerated(scratch)).toEqual([]);
  });

  it('generates the same bytes every time', () => {
    expect(generatedFiles()).toEqual(generatedFiles());
  });

  it('documents every message type and its routing key', () => {
    const doc = generatedFiles().find((file) => file.path === DOC_PATH)?.content ?? '';
    for (const spec of messageSpecs) {
      expect(doc).toContain(`### ${spec.type}\n`);
      expect(doc).toContain(spec.routingTemplate);
    }
  });
});
