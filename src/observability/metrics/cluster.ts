import { AggregatorRegistry, Gauge, Registry, type PrometheusContentType } from 'prom-client';

/**
 * In a cluster worker: answer the primary's metric requests with `registry` (prom-client's own IPC messages,
 * `prom-client:getMetricsReq`). Called once, early: a worker that does not answer makes the primary's scrape wait
 * for prom-client's 5 s timeout.
 */
export function answerPrimaryWith(registry?: Registry): void {
  // The constructor installs the worker's message listener (idempotent); setRegistries picks what it answers. Before
  // the daemon's registry exists (a worker still opening its token) the answer is empty, not late.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries(registry ? [registry] : []);
}

/**
 * In the cluster primary: the workers' metrics summed per series (counters, histograms and gauges alike: a gauge
 * such as `p11bridge_token_state` then counts workers), followed by the primary's own (the replay window).
 */
function clusterMetricsText(
  aggregator: AggregatorRegistry<PrometheusContentType>,
  own: Registry,
): () => Promise<string> {
  return async () => {
    const [workers, primary] = await Promise.all([aggregator.clusterMetrics(), own.metrics()]);
    return `${workers}${primary}`;
  };
}

/**
 * The primary's metrics: its own registry (the replay window it holds, its worker count) and the text of a scrape,
 * its workers' sum followed by its own.
 */
export function primaryMetrics(sources: { replayEntries: () => number; workers: () => number }): () => Promise<string> {
  const own = new Registry();
  new Gauge({
    name: 'p11bridge_replay_window_entries',
    help: 'Nonces remembered by the replay window (held by the cluster primary in a cluster).',
    registers: [own],
    collect() {
      this.set(sources.replayEntries());
    },
  });
  new Gauge({
    name: 'p11bridge_cluster_workers',
    help: 'Cluster workers listening.',
    registers: [own],
    collect() {
      this.set(sources.workers());
    },
  });
  return clusterMetricsText(new AggregatorRegistry(), own);
}
