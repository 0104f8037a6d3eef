import type { ChildProcess } from 'node:child_process';
import type { Worker } from 'node:cluster';

/** The fields of node:cluster's internal IPC message that a connection handoff and its reply carry. */
interface ClusterMessage {
  readonly cmd?: unknown;
  readonly act?: unknown;
  readonly seq?: unknown;
  readonly ack?: unknown;
}

interface Closable {
  close(): void;
}

function isClusterMessage(m: unknown): m is ClusterMessage {
  return typeof m === 'object' && m !== null && (m as ClusterMessage).cmd === 'NODE_CLUSTER';
}

function isClosable(h: unknown): h is Closable {
  return typeof h === 'object' && h !== null && typeof (h as Closable).close === 'function';
}

/** What the primary keeps about one worker's connection handoffs. */
export interface Handoffs {
  /** Closes the primary's copy of every connection handed to the worker and not acknowledged; returns how many. */
  closeUnacknowledged(): number;
}

/**
 * Works around a node:cluster bug (lib/internal/cluster/round_robin_handle.js, Node 20): the primary hands an
 * accepted connection to a worker and closes its own copy only when the worker replies. A worker that never
 * replies (stopped, then killed by the heartbeat supervision; or killed with the connection in flight) leaves that
 * copy open in the primary for ever: the client's connection is neither served nor closed, and its request waits
 * for the client's own timeout. This watches the handoffs of one worker (the `newconn` messages the round-robin
 * sends through `worker.process.send`, and the worker's `ack` replies), so that when the worker is gone the
 * primary closes what it still holds: the client sees its connection closed at once, as for any connection of a
 * worker that died, and retries.
 */
export function trackHandoffs(worker: Worker): Handoffs {
  const pending = new Map<number, Closable>();
  const proc: ChildProcess = worker.process;
  const send = proc.send.bind(proc) as (...args: unknown[]) => boolean;
  const watched = (...args: unknown[]): boolean => {
    const [message, handle] = args;
    if (isClusterMessage(message) && message.act === 'newconn' && typeof message.seq === 'number' && isClosable(handle))
      pending.set(message.seq, handle);
    return send(...args);
  };
  proc.send = watched as unknown as ChildProcess['send'];
  // node:cluster's replies travel as internal messages ('internalMessage' on the child process, lib/child_process).
  proc.on('internalMessage', (message: unknown) => {
    if (isClusterMessage(message) && typeof message.ack === 'number') pending.delete(message.ack);
  });
  return {
    closeUnacknowledged(): number {
      const n = pending.size;
      for (const handle of pending.values()) handle.close();
      pending.clear();
      return n;
    },
  };
}
