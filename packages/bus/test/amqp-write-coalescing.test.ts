// coalesceWrites: the frames amqplib writes in one turn of the event loop leave in one writev.
import { once } from 'node:events';
import { createServer, createConnection, type Server, type Socket } from 'node:net';
import type { ChannelModel } from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import { coalesceWrites } from '../src/transports/amqp-wire.js';

/** A connected client socket and everything its peer receives. */
async function socketPair(): Promise<{ client: Socket; received: () => string; server: Server }> {
  let data = '';
  const server = createServer((peer) => peer.on('data', (chunk: Buffer) => void (data += chunk.toString())));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  const client = createConnection({ port: address.port, host: '127.0.0.1' });
  await once(client, 'connect');
  return { client, received: () => data, server };
}

/** Counts the socket's write system calls as node makes them: one _write or _writev each. */
function countWrites(socket: Socket): { single: number; vectors: number[] } {
  const counts = { single: 0, vectors: [] as number[] };
  const write = socket._write.bind(socket);
  const writev = socket._writev?.bind(socket);
  socket._write = (chunk, encoding, callback) => {
    counts.single += 1;
    write(chunk, encoding, callback);
  };
  socket._writev = (chunks, callback) => {
    counts.vectors.push(chunks.length);
    writev?.(chunks, callback);
  };
  return counts;
}

const asModel = (stream: unknown): ChannelModel => ({ connection: { stream } }) as unknown as ChannelModel;
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('coalesceWrites', () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const cleanup of cleanups.splice(0)) cleanup();
  });

  it('sends the writes of one turn in one writev, in order, and corks each turn afresh', async () => {
    const { client, received, server } = await socketPair();
    cleanups.push(() => {
      client.destroy();
      server.close();
    });
    expect(coalesceWrites(asModel(client))).toBe(true);
    const counts = countWrites(client);

    client.write('a1;');
    client.write('a2;');
    client.write('a3;');
    expect(counts).toEqual({ single: 0, vectors: [] }); // held until the turn ends
    await nextTurn();
    expect(counts).toEqual({ single: 0, vectors: [3] });

    client.write('b1;');
    await nextTurn();
    client.write('c1;');
    client.write('c2;');
    await nextTurn();
    expect(counts).toEqual({ single: 1, vectors: [3, 2] });

    await expect.poll(received).toBe('a1;a2;a3;b1;c1;c2;');
  });

  it('leaves a connection without a socket where amqplib keeps it alone', () => {
    expect(coalesceWrites(asModel(undefined))).toBe(false);
    expect(coalesceWrites({} as ChannelModel)).toBe(false);
  });
});
