/** Real StreamServers on a free loopback port for a test file, each closed after its test. */
import { afterEach } from 'vitest';
import { StreamServer, type StreamServerOptions } from '../../../src/server/server.js';

export interface TestServers {
  /** A server with these options on 127.0.0.1, listening; its stream's URL. */
  serve(o?: Partial<StreamServerOptions>): Promise<{ server: StreamServer; url: string }>;
  /** A server started some other way, closed after the test like the others. */
  track(server: StreamServer): void;
}

export function useTestServers(): TestServers {
  let servers: StreamServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.map((s) => s.close()));
    servers = [];
  });
  return {
    async serve(o = {}) {
      const server = new StreamServer({ host: '127.0.0.1', port: 0, ...o });
      servers.push(server);
      const { port } = await server.listen();
      return { server, url: `ws://127.0.0.1:${port}/stream` };
    },
    track: (server) => void servers.push(server),
  };
}
