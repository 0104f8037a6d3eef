import { createServer as createHttpServer, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { createServer as createHttpsServer } from 'node:https';
import type { Config } from '../config/schema';
import type { TlsMaterial } from './tlsOptions';

/**
 * The HTTP or HTTPS server with the bounds of `server.limits` applied before any request work (issue 16):
 * a connection cap, a headers timeout shorter than the request timeout (it also bounds the TLS handshake and a
 * connection that never sends a byte), a short keep-alive idle timeout, and expiry checked often enough that a
 * slow or idle peer is cut near its deadline rather than up to 30 s later (node's default check interval).
 * Node applies `headersTimeout` only once a request has begun: a connection that never sends a byte would stay
 * open for ever, so {@link cutSilentConnections} closes one that has not delivered a request head in that time.
 */
export function createListener(config: Config, tls: TlsMaterial | undefined, handler: RequestListener): Server {
  const limits = config.server.limits;
  const common = {
    maxHeaderSize: config.server.maxHeaderSize,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.min(1000, Math.max(100, Math.floor(limits.headersTimeoutMs / 4))),
  };
  const server: Server = tls
    ? createHttpsServer(
        {
          ...common,
          ...tls.context,
          requestCert: tls.requestCert,
          rejectUnauthorized: tls.rejectUnauthorized,
          handshakeTimeout: limits.headersTimeoutMs,
        },
        handler,
      )
    : createHttpServer(common, handler);
  cutSilentConnections(server, tls !== undefined, limits.headersTimeoutMs);
  server.maxConnections = limits.maxConnections;
  // Node re-applies these from the options, but older minor versions read only the properties.
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  return server;
}

/**
 * Closes a connection whose first request head has not arrived `ms` after it connected (after the TLS handshake
 * over TLS: the handshake itself is bounded by `handshakeTimeout`). Later requests on a keep-alive connection are
 * bounded by `keepAliveTimeout` and `headersTimeout`.
 */
function cutSilentConnections(server: Server, tls: boolean, ms: number): void {
  const started = new WeakSet<Socket>();
  server.on('request', (req: IncomingMessage) => started.add(req.socket));
  server.on(tls ? 'secureConnection' : 'connection', (socket: Socket) => {
    const timer = setTimeout(() => {
      if (!started.has(socket)) socket.destroy();
    }, ms);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  });
}
