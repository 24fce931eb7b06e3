// The routes an express app registers, as OpenAPI paths ("GET /api/deploys/{id}"), so a test can hold
// openapi.yaml and the code to each other. Reads express 5's router stack: route layers directly, and
// the stacks of routers mounted without a path (the convention of routes/index.ts).
import type express from 'express';

interface Layer {
  readonly route?: { readonly path: string; readonly methods: Record<string, boolean> };
  readonly handle?: { readonly stack?: readonly Layer[] };
}

/** `/deploys/:id` -> `/deploys/{id}`, `/assets/*path` -> `/assets/{path}`. */
export function openApiPath(expressPath: string): string {
  return expressPath.replace(/[:*]([A-Za-z0-9_]+)/g, '{$1}');
}

export function listRoutes(app: express.Express): string[] {
  const out = new Set<string>();
  const walk = (stack: readonly Layer[]): void => {
    for (const layer of stack) {
      if (layer.route !== undefined) {
        for (const [method, on] of Object.entries(layer.route.methods)) if (on && method !== '_all') out.add(`${method.toUpperCase()} ${openApiPath(layer.route.path)}`);
      } else if (layer.handle?.stack !== undefined) {
        walk(layer.handle.stack);
      }
    }
  };
  walk((app as unknown as { router: { stack: readonly Layer[] } }).router.stack);
  return [...out].sort();
}
