/** Builds the {@link RpcRequestView} the RPC parser would hand to authenticate(), from wire-form pieces. */
import type { RpcRequestView } from '../../../src/api/auth/authenticate';

/** Decodes `a=b&c=d` the x-www-form-urlencoded way (`+` is a space), keeping wire order. */
export function decodePairs(s: string): Array<[string, string]> {
  if (s === '') return [];
  return s.split('&').map((part): [string, string] => {
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? '' : part.slice(eq + 1);
    const decode = (x: string): string => decodeURIComponent(x.replace(/\+/g, ' '));
    return [decode(name), decode(value)];
  });
}

export interface WireRequest {
  method: string;
  /** Path with query, e.g. `/?a=b`. */
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

/** The view of a request as it arrives: query decoded from the path, a form body decoded if declared. */
export function requestView(wire: WireRequest): RpcRequestView {
  const headers = wire.headers ?? {};
  const q = wire.path.indexOf('?');
  const body = wire.body ?? '';
  const isForm = (headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
  return {
    method: wire.method,
    query: q < 0 ? [] : decodePairs(wire.path.slice(q + 1)),
    body: isForm ? decodePairs(body) : [],
    rawBody: Buffer.from(body, 'utf8'),
    headers: { ...headers },
  };
}
