import { randomUUID } from 'node:crypto';
import { createServer, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { parsePairs, splitUrl } from '../../src/api/rpcRequest';
import { kmsSignatureAlgorithm } from '../../src/crypto/algorithms';
import type { TokenManager } from '../../src/token/tokenManager';

/**
 * The reference server of issue item 3: bare `node:http`, no framework, no authentication, no logging. It parses
 * the query, signs through the same token manager (same session pool, same threadpool) and answers the same
 * JSON fields as the daemon. It is the practical ceiling of HTTP signing on this machine, so the daemon's
 * figures are read as a fraction of it.
 */
export function createReferenceServer(token: TokenManager, tls?: { cert: string; key: string }): Server {
  // With --tls both servers speak HTTPS with the same certificate, so the ratio still isolates our own work.
  const serve = (handler: RequestListener): Server =>
    tls ? createHttpsServer({ cert: tls.cert, key: tls.key }, handler) : createServer(handler);
  return serve((req, res) => {
    let id = '';
    let algorithm = '';
    let message = '';
    try {
      for (const [name, value] of parsePairs(splitUrl(req.url ?? '/').query, false)) {
        if (name === 'CertificateId') id = value;
        else if (name === 'Algorithm') algorithm = value;
        else if (name === 'Message') message = value;
      }
    } catch {
      reply(res, 400, { Code: 'InvalidParameter' });
      return;
    }
    const alg = kmsSignatureAlgorithm(algorithm);
    if (!alg) {
      reply(res, 400, { Code: 'InvalidParameter', Message: 'Algorithm' });
      return;
    }
    token.sign(id, alg, { kind: 'message', data: Buffer.from(message, 'base64') }).then(
      (signature) =>
        reply(res, 200, { CertificateId: id, SignatureValue: signature.toString('base64'), RequestId: randomUUID() }),
      (e: unknown) => reply(res, 500, { Code: 'InternalError', Message: e instanceof Error ? e.message : String(e) }),
    );
  });
}

function reply(res: ServerResponse, status: number, body: Record<string, string>): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
  res.end(payload);
}
