import { Counter, Gauge, type Registry } from 'prom-client';

/** What the audit metrics read of the audit log at scrape time (src/audit/auditHealth.ts has it). */
export interface ObservedAudit {
  readonly ready: boolean;
  /** Failed write attempts since the process started: only grows. */
  readonly writeFailures: number;
}

/**
 * Registers the audit log's metrics (docs/operations.md "Metrics"): both read the audit log's memory when scraped,
 * so the request path pays nothing for them. In a cluster the primary sums its workers: `p11bridge_audit_ready` is
 * then the number of workers whose audit log can be written.
 */
export function instrumentAudit(registry: Registry, audit: () => ObservedAudit): void {
  new Gauge({
    name: 'p11bridge_audit_ready',
    help: 'Processes whose audit log can be written (1 per process; 0 while entries cannot be written).',
    registers: [registry],
    collect() {
      this.set(audit().ready ? 1 : 0);
    },
  });
  let counted = 0;
  new Counter({
    name: 'p11bridge_audit_write_failures_total',
    help: 'Failed attempts to write audit entries (disk full, permission); a failing file is retried every second.',
    registers: [registry],
    collect() {
      const n = audit().writeFailures;
      if (n > counted) this.inc(n - counted);
      counted = n;
    },
  });
}
