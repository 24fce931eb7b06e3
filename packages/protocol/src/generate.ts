// Writes the generated protocol files (JSON Schemas, docs/protocol.md), or with --check verifies that
// the committed ones match the catalog, so CI catches a protocol change made without its docs.
import { mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { envelopeJsonSchema, messageJsonSchema } from './json-schema.js';
import { messageSpecs } from './messages.js';
import { renderProtocolDoc } from './protocol-doc.js';

export const SCHEMA_DIR = 'packages/protocol/schemas';
export const DOC_PATH = 'docs/protocol.md';

export interface GeneratedFile {
  /** Relative to the repository root, with `/`. */
  readonly path: string;
  readonly content: string;
}

export type GeneratedFileProblem = { path: string; problem: 'missing' | 'stale' | 'extra' };

export function generatedFiles(): GeneratedFile[] {
  const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;
  return [
    { path: `${SCHEMA_DIR}/envelope.json`, content: json(envelopeJsonSchema()) },
    ...messageSpecs.map((spec) => ({ path: `${SCHEMA_DIR}/${spec.type}.json`, content: json(messageJsonSchema(spec)) })),
    { path: DOC_PATH, content: renderProtocolDoc() },
  ];
}

/** What differs between the files under `root` and what the catalog generates; empty when all is fresh. */
export function checkGenerated(root: string): GeneratedFileProblem[] {
  const files = generatedFiles();
  const problems: GeneratedFileProblem[] = [];
  for (const file of files) {
    const current = readOrUndefined(join(root, file.path));
    if (current === undefined) problems.push({ path: file.path, problem: 'missing' });
    else if (current !== file.content) problems.push({ path: file.path, problem: 'stale' });
  }
  const expected = new Set(files.map((file) => file.path));
  for (const path of schemaFiles(root)) if (!expected.has(path)) problems.push({ path, problem: 'extra' });
  return problems;
}

/** Writes every generated file under `root` and deletes schema files no message type has any more. */
export function writeGenerated(root: string): GeneratedFileProblem[] {
  const problems = checkGenerated(root);
  const contents = new Map(generatedFiles().map((file) => [file.path, file.content]));
  for (const { path, problem } of problems) {
    const target = join(root, path);
    if (problem === 'extra') {
      rmSync(target);
      continue;
    }
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, contents.get(path) ?? '');
  }
  return problems;
}

function schemaFiles(root: string): string[] {
  try {
    return readdirSync(join(root, SCHEMA_DIR))
      .filter((name) => name.endsWith('.json'))
      .map((name) => `${SCHEMA_DIR}/${name}`);
  } catch {
    return [];
  }
}

function readOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

const EXPLAIN: Record<GeneratedFileProblem['problem'], string> = {
  missing: 'is missing',
  stale: 'is stale: it differs from what the message catalog generates',
  extra: 'belongs to no message type any more',
};

function main(args: readonly string[]): number {
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  if (args.length === 1 && args[0] === '--check') {
    const problems = checkGenerated(root);
    for (const { path, problem } of problems) console.error(`protocol:check: ${path} ${EXPLAIN[problem]}.`);
    if (problems.length > 0) {
      console.error('protocol:check: run `npm run protocol:generate` and commit the result.');
      return 1;
    }
    console.log(`protocol:check: all ${generatedFiles().length} generated protocol files are up to date.`);
    return 0;
  }
  if (args.length === 0) {
    const changed = writeGenerated(root);
    for (const { path, problem } of changed) console.log(`${problem === 'extra' ? 'deleted' : 'wrote'} ${path}`);
    if (changed.length === 0) console.log('protocol: generated files were already up to date.');
    return 0;
  }
  console.error('usage: node packages/protocol/dist/generate.js [--check]');
  return 2;
}

const invokedPath = process.argv[1];
if (invokedPath !== undefined && import.meta.url === pathToFileURL(realpathSync(invokedPath)).href) {
  process.exitCode = main(process.argv.slice(2));
}
