// Sends what git hooks spooled while the bus was unreachable: every configured spool dir, at start
// and on an interval. DiskSpool claims each file by rename, so a hook draining the same dir at the same
// time never sends a file twice.
import type { Bus } from '@deploybus/bus';
import { DiskSpool, type Logger } from '@deploybus/runtime';

export interface SpoolDrainer {
  /** Drains every dir once (waits for a drain already running); resolves to the messages sent. */
  drainNow(): Promise<number>;
  stop(): Promise<void>;
}

export function startSpoolDrains(options: { dirs: readonly string[]; bus: Bus; logger: Logger; intervalMs: number }): SpoolDrainer {
  const spools = options.dirs.map((dir) => new DiskSpool(dir));
  let running: Promise<number> | undefined;
  const drainAll = async (): Promise<number> => {
    let sent = 0;
    for (const spool of spools) {
      // A publish with the broker away would wait out its timeout per file; the next tick will do.
      if (options.bus.state !== 'connected') break;
      try {
        const result = await spool.drain((m) => options.bus.publish(m));
        sent += result.sent;
        if (result.sent > 0) options.logger.info({ dir: spool.dir, sent: result.sent }, 'sent spooled events');
        if (result.rejected > 0) options.logger.warn({ dir: spool.dir, rejected: result.rejected }, 'spooled files without a valid message moved aside as *.bad');
        if (result.failed > 0) options.logger.warn({ dir: spool.dir }, 'a spooled event could not be sent; retried next interval');
      } catch (error) {
        options.logger.warn({ dir: spool.dir, err: error instanceof Error ? error.message : String(error) }, 'could not drain spool dir');
      }
    }
    return sent;
  };
  const drainNow = (): Promise<number> => {
    running ??= drainAll().finally(() => {
      running = undefined;
    });
    return running;
  };
  void drainNow();
  const timer = options.dirs.length === 0 ? undefined : setInterval(() => void drainNow(), options.intervalMs);
  timer?.unref();
  return {
    drainNow,
    async stop() {
      if (timer) clearInterval(timer);
      await running?.catch(() => undefined);
    },
  };
}
