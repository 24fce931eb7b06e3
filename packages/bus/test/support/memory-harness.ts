// The harness for memory://: the in-process broker is reached directly.
import { DEAD_LETTER_QUEUE, EVENTS_EXCHANGE } from '@deploybus/protocol';
import { memoryBroker } from '../../src/index.js';
import type { DeadLetter, TransportHarness } from './harness.js';
import { randomName } from './wait-for.js';

export function memoryHarness(): TransportHarness {
  const name = randomName('conformance');
  const broker = memoryBroker(name);
  let down = false;
  return {
    name: 'memory',
    url: `memory://${name}`,
    async publishRaw(routingKey, body) {
      broker.publish(EVENTS_EXCHANGE, routingKey, body, undefined);
    },
    async drainDeadLetters() {
      const letters: DeadLetter[] = [];
      const connection = broker.open(() => undefined);
      try {
        broker.declareQueue({ name: DEAD_LETTER_QUEUE, kind: 'dead-letter', patterns: [] });
        const stop = broker.consume(connection, DEAD_LETTER_QUEUE, 10_000, (d) => {
          letters.push({
            body: d.body.toString('utf8'),
            reason: d.headers['x-deploybus-reason'] ?? '',
            queue: d.headers['x-deploybus-queue'] ?? '',
            routingKey: d.headers['x-deploybus-routing-key'] ?? '',
          });
          broker.settle(connection, d.tag, 'ack');
        });
        await new Promise((resolve) => setTimeout(resolve, 50));
        stop();
      } finally {
        broker.close(connection);
      }
      return letters;
    },
    async restartBroker(whileDown) {
      if (down) throw new Error('already down');
      down = true;
      broker.stop();
      try {
        await whileDown();
      } finally {
        broker.start();
        down = false;
      }
    },
    async deleteQueue(queue) {
      broker.deleteQueue(queue);
    },
    async close() {
      // Nothing to release: the broker is garbage once the test's buses are closed.
    },
  };
}
