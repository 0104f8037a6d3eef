import { readFileSync } from 'node:fs';

/**
 * How busy the whole machine was around a cell, from /proc/stat, so that a reader can tell a slow cell from a
 * busy machine: the benchmark shares 2 cores with whatever else runs (colleagues' test suites, the VM host).
 */
export interface HostSample {
  /** Jiffies (1/100 s on Linux) summed over all CPUs. */
  readonly busy: number;
  readonly steal: number;
  readonly total: number;
  /** This process's own CPU time, µs. */
  readonly selfUs: number;
}

/** USER_HZ: /proc/stat counts in 1/100 s on every Linux architecture Node supports. */
const JIFFY_US = 10_000;

export function hostSample(): HostSample {
  const cpu = process.cpuUsage();
  const selfUs = cpu.user + cpu.system;
  let line: string | undefined;
  try {
    line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
  } catch {
    line = undefined;
  }
  // cpu  user nice system idle iowait irq softirq steal guest guest_nice (guest time is inside user)
  const f = (line ?? '').trim().split(/\s+/).slice(1, 9).map(Number);
  if (f.length < 8 || f.some((n) => !Number.isFinite(n))) return { busy: 0, steal: 0, total: 0, selfUs };
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
  const busy = user + nice + system + irq + softirq;
  return { busy, steal, total: busy + idle + iowait + steal, selfUs };
}

/**
 * The share of the machine (all cores = 100 %) used by processes other than the benchmark and the measured
 * server, and the share stolen by the hypervisor, between two samples. Undefined without /proc/stat.
 */
export function otherLoad(
  before: HostSample,
  after: HostSample,
  serverCpuUs: number,
): { otherCpuPct: number; stealPct: number } | undefined {
  const total = after.total - before.total;
  if (total <= 0) return undefined;
  const busyUs = (after.busy - before.busy) * JIFFY_US;
  const oursUs = after.selfUs - before.selfUs + serverCpuUs;
  const capacityUs = total * JIFFY_US;
  return {
    otherCpuPct: Math.max(0, ((busyUs - oursUs) / capacityUs) * 100),
    stealPct: ((after.steal - before.steal) / total) * 100,
  };
}
