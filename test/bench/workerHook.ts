/**
 * Preloaded (`--require`) into each daemon worker when the benchmark runs the daemon as a cluster: answers the
 * bench child's `{ bench: 'cpu' }` questions with this worker's own sample, so the server's figures cover every
 * process that serves. Production workers do not load it.
 */
import { cpuSample } from './sampling';

process.on('message', (m: unknown) => {
  if (typeof m !== 'object' || m === null || !('bench' in m) || m.bench !== 'cpu' || !('seq' in m)) return;
  process.send?.({ bench: 'cpu', seq: m.seq, sample: cpuSample() });
});
