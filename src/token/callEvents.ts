import type { TokenEvents } from '../observability/tokenEvents';
import { ckrName, ckrOf, classify } from './ckr';
import { isTokenFault } from './faults';
import type { CallObserver } from './remoteLib';

/**
 * The RemoteLib observer of one token: turns each finished call into a `call` event with its duration, the CKR_*
 * name of its error (`deadline` for a call that passed its deadline) and its fault class. Nothing is timed when
 * nobody listens.
 */
export function callEvents(events: TokenEvents, token: string): CallObserver | undefined {
  if (!events.active) return undefined;
  return (operation, started, error) => {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (error === undefined) {
      events.emit({ kind: 'call', token, operation, seconds, error: undefined, fault: undefined });
      return;
    }
    const code = ckrOf(error);
    let name: string;
    let fault: string;
    if (code !== undefined) {
      name = ckrName(code);
      fault = classify(error);
    } else if (isTokenFault(error)) {
      name = error.kind === 'timeout' ? 'deadline' : error.kind;
      fault = error.kind;
    } else {
      name = 'other';
      fault = 'internal';
    }
    events.emit({ kind: 'call', token, operation, seconds, error: name, fault });
  };
}
