import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { InvalidArgumentError, SubrunError } from '../core/errors.js';
import type { CloseOptions } from './graceful-close.js';
import { SocketTransport } from './socket-transport.js';
import { formatTransportUrl, parseTransportUrl, type TransportAddress } from './transport-url.js';
import type { Transport } from './transport.js';
import { WS_MAX_MESSAGE_BYTES, WebSocketTransport } from './ws-transport.js';

export interface Listener {
  /** The URL peers dial, with the real port when port 0 was asked for. */
  readonly url: string;
  /** Stop accepting. Transports already handed out live on; their owner closes them. Idempotent. */
  close(): Promise<void>;
}

export interface ListenOptions extends CloseOptions {
  /** ws:// only: the largest message accepted from a peer. @default 1 MiB (SPEC §9.6) */
  maxPayload?: number;
}

/**
 * Accept transports at a URL (SPEC §9.3, §9.6): `tcp://host:port` (port 0 for any free
 * port), `unix:/path`, `ws://host:port/path`. Rejects with ERR_TRANSPORT_URL or
 * ERR_TRANSPORT_LISTEN.
 */
export async function listen(url: string, onTransport: (transport: Transport) => void, options: ListenOptions = {}): Promise<Listener> {
  if (typeof onTransport !== 'function') throw new InvalidArgumentError('onTransport', 'a function', onTransport);
  const address = parseTransportUrl(url, { forListen: true });
  if (address.kind === 'ws') return listenWebSocket(address, onTransport, options);
  if (address.kind !== 'tcp' && address.kind !== 'unix') throw new SubrunError('ERR_TRANSPORT_URL', `Cannot listen on ${url}`);
  const server = createServer({ allowHalfOpen: true, pauseOnConnect: false }, (socket: Socket) => {
    if (address.kind === 'tcp') socket.setNoDelay(true);
    const peer = address.kind === 'tcp' ? `tcp://${formatHost(socket.remoteAddress ?? '?')}:${socket.remotePort ?? 0}` : formatTransportUrl(address);
    onTransport(new SocketTransport(socket, peer, options));
  });
  await startListening(server, address, url);
  return makeListener(server, boundUrl(server, address));
}

async function listenWebSocket(address: Extract<TransportAddress, { kind: 'ws' }>, onTransport: (transport: Transport) => void, options: ListenOptions): Promise<Listener> {
  const wanted = new URL(address.href).pathname;
  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxPayload ?? WS_MAX_MESSAGE_BYTES, perMessageDeflate: false });
  const http: HttpServer = createHttpServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain', connection: 'close' }).end('This is a subrun WebSocket endpoint (SPEC §9.6).\n');
  });
  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {});
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path !== wanted) {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const peer = `ws://${formatHost(req.socket.remoteAddress ?? '?')}:${req.socket.remotePort ?? 0}${wanted}`;
      onTransport(new WebSocketTransport(ws, peer, options));
    });
  });
  // A garbage request line must not take the listener down.
  http.on('clientError', (_error, socket) => socket.destroy());
  await startListening(http, address, address.href);
  const bound = boundUrl(http, address);
  const listener = makeListener(http, bound);
  return {
    url: listener.url,
    close: async () => {
      wss.close();
      await listener.close();
    },
  };
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function startListening(server: Server | HttpServer, address: TransportAddress, url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(new SubrunError('ERR_TRANSPORT_LISTEN', `Could not listen on ${url}: ${error.message}`, { cause: error, details: { errno: error.code } })),
    );
    if (address.kind === 'unix') server.listen(address.path, resolve);
    else if (address.kind === 'tcp' || address.kind === 'ws') server.listen(address.port, address.host, resolve);
  });
}

function boundUrl(server: Server | HttpServer, address: TransportAddress): string {
  const bound = server.address();
  if (bound === null || typeof bound === 'string' || address.kind === 'unix') return formatTransportUrl(address);
  if (address.kind === 'tcp') return formatTransportUrl({ ...address, port: bound.port });
  if (address.kind === 'ws') return formatTransportUrl({ ...address, port: bound.port });
  return formatTransportUrl(address);
}

function makeListener(server: Server | HttpServer, url: string): Listener {
  let closing: Promise<void> | undefined;
  server.on('error', () => {});
  return {
    url,
    close: () => {
      // Resolves when we stop listening, not when every connection has gone (net's close callback).
      closing ??= new Promise((resolve) => {
        if (!server.listening) resolve();
        else {
          server.close();
          setImmediate(resolve);
        }
      });
      return closing;
    },
  };
}
