/**
 * A plain-HTTP proxy on a free loopback port, as the bundle's build-time helpers need it (the offline index
 * that serves a bundle's files, the recorder of apt's downloads). CONNECT (https through the proxy) is
 * refused and noted in `refused`: neither helper can see inside TLS.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LoopbackProxy {
  proxyUrl: string;
  close(): Promise<void>;
}

export async function startLoopbackProxy(handle: (req: IncomingMessage, res: ServerResponse) => void, refused: string[]): Promise<LoopbackProxy> {
  const server = createServer(handle);
  server.on('connect', (req: IncomingMessage, socket) => {
    refused.push(`CONNECT ${req.url ?? ''}`);
    socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    proxyUrl: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
