// services/web/openapi.yaml, read once and served as JSON at /api/openapi.json.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const OPENAPI_FILE = fileURLToPath(new URL('../openapi.yaml', import.meta.url));

export function loadOpenApi(file: string = OPENAPI_FILE): Record<string, unknown> {
  const document: unknown = parse(readFileSync(file, 'utf8'));
  if (typeof document !== 'object' || document === null || Array.isArray(document)) throw new Error(`${file} does not hold an OpenAPI document`);
  return document as Record<string, unknown>;
}
