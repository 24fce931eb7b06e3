// The CLI's config: the keys every deploybus process has (bus.url ...) plus the hook's own. Loaded
// with the runtime's loader so a file and DEPLOYBUS_BUS_URL mean the same here as in a daemon.
import { z } from 'zod';
import { nameSchema } from '@deploybus/protocol';
import { daemonConfigSchema, loadConfig, type Env } from '@deploybus/runtime';

export const cliConfigSchema = daemonConfigSchema({
  hook: z
    .strictObject({
      repo: nameSchema.optional().describe('Repository name in events, instead of the directory name.'),
      spoolDir: z.string().min(1).optional().describe('Where events wait when the bus is unreachable.'),
    })
    .optional(),
});

export type CliConfig = z.output<typeof cliConfigSchema>;

export interface CliConfigView {
  /** The bus URL from the file or DEPLOYBUS_BUS_URL; undefined when neither names one. */
  readonly busUrl: string | undefined;
  readonly repo: string | undefined;
  readonly spoolDir: string | undefined;
}

/** Reads `file` (or DEPLOYBUS_CONFIG) and the environment. Throws ConfigError naming the key. */
export function loadCliConfig(file: string | undefined, env: Env): CliConfigView {
  const path = file ?? (env['DEPLOYBUS_CONFIG'] || undefined);
  const config = loadConfig(cliConfigSchema, { file: path, env });
  // The schema's default, memory://default, means nothing to a hook in its own process: treat it as unset.
  const named = (env['DEPLOYBUS_BUS_URL'] ?? '') !== '' || config.bus.url !== 'memory://default';
  return {
    busUrl: named ? config.bus.url : undefined,
    repo: config.hook?.repo,
    spoolDir: config.hook?.spoolDir,
  };
}
