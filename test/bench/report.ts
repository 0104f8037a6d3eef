import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem, type } from 'node:os';
import type { ProfileSummary } from './profile';

export type AlgorithmLabel = 'RSA-2048' | 'P-256';
type ServerLabel = 'token' | 'reference' | 'daemon';
type Mode = 'direct' | 'http' | 'fixed-rate';

/** One measured cell of the table. */
export interface Cell {
  readonly mode: Mode;
  readonly server: ServerLabel;
  readonly algorithm: AlgorithmLabel;
  /** `c=8` (concurrent requests or connections) or `1000/s`. */
  readonly load: string;
  readonly opsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Server process CPU (all threads) per successful request, µs. */
  readonly cpuUsPerReq: number;
  /** `cpuUsPerReq` minus the direct mode's, same algorithm: what HTTP and the API cost beyond the token. */
  readonly beyondTokenUsPerReq: number | null;
  /** CPU of the server's JS thread alone per request, µs (the token's signing runs on the threadpool). */
  readonly jsUsPerReq: number | null;
  /** `jsUsPerReq` minus the direct mode's: the same difference without the threadpool's signing noise. */
  readonly jsBeyondTokenUsPerReq: number | null;
  /** Event-loop utilisation of the server's JS thread in the window, 0–1. */
  readonly elu: number;
  /** Longest GC pause of the server in the window, ms (worst repetition). */
  readonly gcMaxMs: number;
  /** GC pause time per request, µs. */
  readonly gcUsPerReq: number;
  /** ops/s ÷ the direct mode's best ops/s, same algorithm (closed-loop cells only). */
  readonly vsDirect: number | null;
  /** ops/s ÷ the reference server's ops/s at the same load (daemon, closed-loop only). */
  readonly vsReference: number | null;
  readonly ok: number;
  /** Non-2xx answers, connection errors and timeouts (each is a failed request). */
  readonly failed: number;
  readonly loadgenCpuUsPerReq?: number;
  readonly maxSendLagMs?: number;
  /** Share of the machine used by other processes during the cell, % of all cores (noise indicator). */
  readonly otherCpuPct?: number;
  /** Share of the machine's CPU time stolen by the hypervisor during the cell, %. */
  readonly stealPct?: number;
  /** A clustered daemon: its primary process's CPU per request, µs (part of `cpuUsPerReq`). */
  readonly primaryUsPerReq?: number;
}

/** One repetition of a cell, before the ratios (which need the other cells) are derived. */
export interface Sample {
  readonly opsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly cpuUsPerReq: number;
  readonly jsUsPerReq: number | null;
  readonly elu: number;
  /** The server's longest GC pause in the window, ms, and its GC pause time per request, µs. */
  readonly gcMaxMs: number;
  readonly gcUsPerReq: number;
  readonly ok: number;
  readonly failed: number;
  readonly loadgenCpuUsPerReq?: number;
  readonly maxSendLagMs?: number;
  readonly otherCpuPct?: number;
  readonly stealPct?: number;
  readonly primaryUsPerReq?: number;
}

/** Where a sample belongs in the table. */
export interface CellKey {
  readonly mode: Mode;
  readonly server: ServerLabel;
  readonly algorithm: AlgorithmLabel;
  readonly load: string;
}

function medianOf(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  if (s.length === 0) return 0;
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

function medianOpt(values: ReadonlyArray<number | null | undefined>): number | undefined {
  const present = values.filter((v): v is number => typeof v === 'number');
  return present.length ? medianOf(present) : undefined;
}

/** Repetitions of one cell combined: the median of each figure, the worst max, the sums of counts. */
export function combine(samples: readonly Sample[]): Sample {
  const med = (f: (s: Sample) => number): number => medianOf(samples.map(f));
  const loadgen = medianOpt(samples.map((s) => s.loadgenCpuUsPerReq));
  const lag = samples.some((s) => s.maxSendLagMs !== undefined)
    ? Math.max(...samples.map((s) => s.maxSendLagMs ?? 0))
    : undefined;
  const other = medianOpt(samples.map((s) => s.otherCpuPct));
  const steal = medianOpt(samples.map((s) => s.stealPct));
  const primary = medianOpt(samples.map((s) => s.primaryUsPerReq));
  return {
    opsPerSec: med((s) => s.opsPerSec),
    p50Ms: med((s) => s.p50Ms),
    p99Ms: med((s) => s.p99Ms),
    maxMs: Math.max(...samples.map((s) => s.maxMs)),
    cpuUsPerReq: med((s) => s.cpuUsPerReq),
    jsUsPerReq: medianOpt(samples.map((s) => s.jsUsPerReq)) ?? null,
    elu: med((s) => s.elu),
    gcMaxMs: Math.max(...samples.map((s) => s.gcMaxMs)),
    gcUsPerReq: med((s) => s.gcUsPerReq),
    ok: samples.reduce((n, s) => n + s.ok, 0),
    failed: samples.reduce((n, s) => n + s.failed, 0),
    ...(loadgen !== undefined ? { loadgenCpuUsPerReq: loadgen } : {}),
    ...(lag !== undefined ? { maxSendLagMs: lag } : {}),
    ...(other !== undefined ? { otherCpuPct: other } : {}),
    ...(steal !== undefined ? { stealPct: steal } : {}),
    ...(primary !== undefined ? { primaryUsPerReq: primary } : {}),
  };
}

/**
 * The table's cells from the combined samples: CPU beyond the direct mode, ×direct (closed-loop cells) and the
 * daemon's ×reference at the same load.
 */
export function deriveCells(measured: ReadonlyArray<{ key: CellKey; sample: Sample }>): Cell[] {
  const find = (k: Partial<CellKey>): Sample | undefined =>
    measured.find(
      (m) =>
        (k.mode === undefined || m.key.mode === k.mode) &&
        (k.server === undefined || m.key.server === k.server) &&
        (k.algorithm === undefined || m.key.algorithm === k.algorithm) &&
        (k.load === undefined || m.key.load === k.load),
    )?.sample;
  return measured.map(({ key, sample }) => {
    const base = find({ mode: 'direct', algorithm: key.algorithm });
    const isDirect = key.mode === 'direct';
    const ref = key.server === 'daemon' && key.mode === 'http' ? find({ ...key, server: 'reference' }) : undefined;
    return {
      ...key,
      ...sample,
      beyondTokenUsPerReq: base && !isDirect ? sample.cpuUsPerReq - base.cpuUsPerReq : null,
      jsBeyondTokenUsPerReq:
        base && !isDirect && base.jsUsPerReq !== null && sample.jsUsPerReq !== null
          ? sample.jsUsPerReq - base.jsUsPerReq
          : null,
      vsDirect: base && key.mode !== 'fixed-rate' && base.opsPerSec > 0 ? sample.opsPerSec / base.opsPerSec : null,
      vsReference: ref && ref.opsPerSec > 0 ? sample.opsPerSec / ref.opsPerSec : null,
    };
  });
}

/** Cells measured while other processes used more than this share of the machine are flagged as noisy. */
const NOISY_OTHER_LOAD_PCT = 25;

const isNoisy = (c: Cell): boolean => (c.otherCpuPct ?? 0) > NOISY_OTHER_LOAD_PCT;

export interface SweepPoint {
  readonly algorithm: AlgorithmLabel;
  readonly concurrency: number;
  readonly opsPerSec: number;
  readonly cpuUsPerReq: number;
}

export interface Verdict {
  readonly target: string;
  readonly measured: string;
  readonly pass: boolean;
}

export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly os: string;
  readonly kernel: string;
  readonly node: string;
  readonly softhsm: string;
  readonly loadAverageAtStart: readonly number[];
}

export interface Settings {
  readonly quick: boolean;
  /** Interleaved repetitions of every cell; the table shows medians. */
  readonly repeat: number;
  readonly cellSeconds: number;
  readonly warmupSeconds: number;
  readonly connections: readonly number[];
  readonly directConcurrencies: readonly number[];
  readonly rate: number;
  readonly rateSeconds: number;
  readonly poolSize: number;
  readonly threadpool: number;
  /** The daemon's worker processes (`server.workers`; 1 with --profile). */
  readonly daemonWorkers: number;
  readonly daemonLogLevel: string;
  readonly messageBytes: number;
  /** The daemon's replay store (`auth.replay.store`; `--replay`). */
  readonly replayStore?: 'memory' | 'redis';
}

export interface BenchReport {
  readonly date: string;
  readonly machine: Machine;
  readonly settings: Settings;
  readonly directSweep: readonly SweepPoint[];
  readonly cells: readonly Cell[];
  readonly verdicts: readonly Verdict[];
  readonly loadAverageAtEnd: readonly number[];
  readonly profiles?: readonly ProfileSummary[];
}

/** The machine the numbers belong to. */
export function machineInfo(): Machine {
  const cpuinfo = readIf('/proc/cpuinfo');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown';
  const osRelease = /^PRETTY_NAME="?([^"\n]+)"?$/m.exec(readIf('/etc/os-release'))?.[1] ?? type();
  const softhsm = spawnSync('softhsm2-util', ['--version'], { encoding: 'utf8' });
  return {
    cpu: model,
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: osRelease,
    kernel: `${type()} ${release()}`,
    node: process.version,
    softhsm: softhsm.status === 0 ? `SoftHSM2 ${softhsm.stdout.trim()}` : 'SoftHSM2 (version unknown)',
    loadAverageAtStart: loadavg().map(round2),
  };
}

function readIf(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

const round2 = (n: number): number => Math.round(n * 100) / 100;

/**
 * The issue's targets, judged on this run:
 * - throughput: the daemon's best closed-loop ops/s over the reference's best (same algorithm);
 * - latency: the daemon's p99 at the fixed rate;
 * - CPU beyond the token: server CPU per request (all threads) minus the direct mode's, in the worst daemon
 *   closed-loop cell (loaded, like the direct baseline it is compared with; fixed-rate cells are shown but not
 *   judged, their baseline is not at that load). The JS-thread difference is printed beside it: it leaves out
 *   the threadpool, whose RSA CPU per signature moves by ±100 µs with contention on 2 shared cores.
 */
export function judge(cells: readonly Cell[], rate: number): Verdict[] {
  const out: Verdict[] = [];
  const noise = (used: readonly Cell[]): string => {
    const worst = Math.max(0, ...used.map((c) => c.otherCpuPct ?? 0));
    return worst > NOISY_OTHER_LOAD_PCT
      ? `; noisy: other processes used up to ${worst.toFixed(0)} % of the machine`
      : '';
  };
  const http = (alg: AlgorithmLabel, server: ServerLabel): Cell[] =>
    cells.filter((c) => c.mode === 'http' && c.algorithm === alg && c.server === server);
  const best = (cs: readonly Cell[]): Cell | undefined =>
    cs.reduce<Cell | undefined>((b, c) => (b === undefined || c.opsPerSec > b.opsPerSec ? c : b), undefined);
  for (const [alg, min] of [
    ['RSA-2048', 0.9],
    ['P-256', 0.7],
  ] as const) {
    const d = best(http(alg, 'daemon'));
    const r = best(http(alg, 'reference'));
    const ratio = d && r && r.opsPerSec > 0 ? d.opsPerSec / r.opsPerSec : 0;
    out.push({
      target: `${alg}: daemon ≥ ${min.toFixed(1)}× reference throughput`,
      measured:
        d && r
          ? `${ratio.toFixed(3)}× (${fmtInt(d.opsPerSec)} at ${d.load} vs ${fmtInt(r.opsPerSec)} at ${r.load} ops/s, best of each${noise([d, r])})`
          : 'not measured',
      pass: ratio >= min,
    });
  }
  for (const alg of ['RSA-2048', 'P-256'] as const) {
    const c = cells.find((x) => x.mode === 'fixed-rate' && x.server === 'daemon' && x.algorithm === alg);
    out.push({
      target: `${alg}: daemon p99 ≤ 5 ms at ${fmtInt(rate)} req/s`,
      measured: c
        ? `p99 ${c.p99Ms.toFixed(2)} ms (p50 ${c.p50Ms.toFixed(2)}, max ${c.maxMs.toFixed(1)}${noise([c])})`
        : 'not measured',
      pass: c !== undefined && c.p99Ms <= 5 && c.failed === 0,
    });
  }
  for (const alg of ['RSA-2048', 'P-256'] as const) {
    const mine = http(alg, 'daemon');
    const worst = Math.max(...mine.map((x) => x.beyondTokenUsPerReq ?? Infinity));
    const worstJs = Math.max(...mine.map((x) => x.jsBeyondTokenUsPerReq ?? Infinity));
    out.push({
      target: `${alg}: daemon CPU beyond the token ≤ 120 µs/req`,
      measured: mine.length
        ? `${worst.toFixed(0)} µs/req all threads; ${Number.isFinite(worstJs) ? worstJs.toFixed(0) : '–'} µs/req JS thread (worst closed-loop cell${noise(mine)})`
        : 'not measured',
      pass: mine.length > 0 && worst <= 120,
    });
  }
  const failed = cells.reduce((n, c) => n + c.failed, 0);
  if (failed > 0) out.push({ target: 'every request succeeds', measured: `${failed} failed requests`, pass: false });
  return out;
}

const fmtInt = (n: number): string => Math.round(n).toLocaleString('en-US');
const fmt = (n: number | null, digits: number): string => (n === null || !Number.isFinite(n) ? '–' : n.toFixed(digits));

const COLUMNS = [
  'mode',
  'alg',
  'server',
  'load',
  'ops/s',
  'p50 ms',
  'p99 ms',
  'max ms',
  'CPU µs/req',
  'beyond token',
  'JS µs/req',
  'JS beyond token',
  'ELU',
  'GC max ms',
  '×direct',
  '×reference',
  'other load %',
  'failed',
] as const;

function cellRow(c: Cell): string[] {
  return [
    c.mode,
    c.algorithm,
    c.server,
    c.load,
    fmtInt(c.opsPerSec),
    fmt(c.p50Ms, 2),
    fmt(c.p99Ms, 2),
    fmt(c.maxMs, 1),
    fmt(c.cpuUsPerReq, 0),
    fmt(c.beyondTokenUsPerReq, 0),
    fmt(c.jsUsPerReq, 0),
    fmt(c.jsBeyondTokenUsPerReq, 0),
    fmt(c.elu, 2),
    fmt(c.gcMaxMs, 1),
    fmt(c.vsDirect, 2),
    fmt(c.vsReference, 2),
    `${fmt(c.otherCpuPct ?? null, 0)}${isNoisy(c) ? '*' : ''}`,
    String(c.failed),
  ];
}

/** The table as aligned plain text (terminal). */
function textTable(cells: readonly Cell[]): string {
  const rows = [[...COLUMNS], ...cells.map(cellRow)];
  const widths = COLUMNS.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const numeric = (i: number): boolean => i >= 4;
  return rows
    .map((r) => r.map((v, i) => (numeric(i) ? v.padStart(widths[i] ?? 0) : v.padEnd(widths[i] ?? 0))).join('  '))
    .join('\n');
}

/** The table as GitHub markdown. */
function markdownTable(cells: readonly Cell[]): string {
  const head = `| ${COLUMNS.join(' | ')} |`;
  const rule = `|${COLUMNS.map((_, i) => (i >= 4 ? '---:' : '---')).join('|')}|`;
  return [head, rule, ...cells.map((c) => `| ${cellRow(c).join(' | ')} |`)].join('\n');
}

function verdictLines(verdicts: readonly Verdict[], bullet: string): string[] {
  return verdicts.map((v) => `${bullet}${v.pass ? 'PASS' : 'FAIL'}  ${v.target}: ${v.measured}`);
}

function sweepLine(sweep: readonly SweepPoint[]): string[] {
  const algs = [...new Set(sweep.map((s) => s.algorithm))];
  return algs.map(
    (a) =>
      `direct sweep ${a}: ` +
      sweep
        .filter((s) => s.algorithm === a)
        .map((s) => `c=${s.concurrency} ${fmtInt(s.opsPerSec)}/s`)
        .join(', '),
  );
}

function noiseLine(cells: readonly Cell[]): string {
  const other = cells.flatMap((c) => (c.otherCpuPct === undefined ? [] : [c.otherCpuPct]));
  const steal = cells.flatMap((c) => (c.stealPct === undefined ? [] : [c.stealPct]));
  if (other.length === 0) return 'other load: unknown (no /proc/stat)';
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  return (
    `other processes used ${mean(other).toFixed(0)} % of the machine on average during the cells ` +
    `(max ${Math.max(...other).toFixed(0)} %); hypervisor steal ${mean(steal).toFixed(1)} % on average`
  );
}

/**
 * The clustered daemon's primary process per request: what the workers' replay-window claims cost on its side
 * (it also hands each new connection to a worker; the load generators keep their connections open).
 */
function primaryLine(cells: readonly Cell[]): string[] {
  const parts = cells.flatMap((c) =>
    c.primaryUsPerReq === undefined ? [] : [`${c.algorithm} ${c.load} ${c.primaryUsPerReq.toFixed(0)}`],
  );
  return parts.length ? [`daemon primary process CPU µs/req (part of the daemon's CPU): ${parts.join(', ')}`] : [];
}

function machineLine(m: Machine): string {
  return `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB; ${m.os} (${m.kernel}); Node ${m.node}; ${m.softhsm}`;
}

function settingsLine(s: Settings): string {
  return (
    `${s.quick ? 'quick: ' : ''}${s.cellSeconds} s cells after ${s.warmupSeconds} s warm-up` +
    `${s.repeat > 1 ? `, median of ${s.repeat} interleaved repetitions` : ', one repetition'}; http at ` +
    `${s.connections.map((c) => `c=${c}`).join(', ')}; fixed rate ${s.rate}/s for ${s.rateSeconds} s; ` +
    `daemon ${s.daemonWorkers} worker process${s.daemonWorkers === 1 ? '' : 'es'}, ${s.replayStore ?? 'memory'} replay store; ` +
    `session pool ${s.poolSize} and UV_THREADPOOL_SIZE ${s.threadpool} per process; daemon log level ${s.daemonLogLevel}; ` +
    `${s.messageBytes}-byte RAW message`
  );
}

/** The human report printed after a run. */
export function textReport(r: BenchReport): string {
  return [
    '',
    `p11bridge bench, ${r.date}`,
    `machine: ${machineLine(r.machine)}`,
    `load average: ${r.machine.loadAverageAtStart.join(' ')} at start, ${r.loadAverageAtEnd.join(' ')} at end; ${noiseLine(r.cells)}`,
    `settings: ${settingsLine(r.settings)}`,
    ...sweepLine(r.directSweep),
    '',
    textTable(r.cells),
    `* other processes used more than ${NOISY_OTHER_LOAD_PCT} % of the machine during the cell: read its figures with care.`,
    ...primaryLine(r.cells),
    '',
    'targets (issue item 4):',
    ...verdictLines(r.verdicts, '  '),
    '',
  ].join('\n');
}

const DOC_BEGIN = '<!-- bench:begin (written by `npm run bench -- --write-doc`; edit outside the markers) -->';
const DOC_END = '<!-- bench:end -->';

/** The generated section of docs/performance.md. */
function markdownSection(r: BenchReport): string {
  return [
    DOC_BEGIN,
    '',
    `Latest run: **${r.date}**${r.settings.quick ? ' (quick mode)' : ''}.`,
    '',
    `- Machine: ${machineLine(r.machine)}.`,
    `- Load average ${r.machine.loadAverageAtStart.join(' ')} at start, ${r.loadAverageAtEnd.join(' ')} at end; ${noiseLine(r.cells)} (a shared machine: column "other load %").`,
    `- Settings: ${settingsLine(r.settings)}.`,
    ...sweepLine(r.directSweep).map((l) => `- ${l[0]?.toUpperCase()}${l.slice(1)}.`),
    '',
    markdownTable(r.cells),
    '',
    `\\* other processes used more than ${NOISY_OTHER_LOAD_PCT} % of the machine during the cell: read its figures with care.`,
    ...primaryLine(r.cells).map((l) => `\n${l[0]?.toUpperCase()}${l.slice(1)}.`),
    '',
    'Targets (issue item 4):',
    '',
    ...verdictLines(r.verdicts, '- '),
    '',
    DOC_END,
  ].join('\n');
}

/** Rewrites the generated section of `path` (creating the file or the markers when missing). */
export function writeDoc(path: string, r: BenchReport): void {
  const section = markdownSection(r);
  const current = existsSync(path) ? readFileSync(path, 'utf8') : '# Performance\n\n';
  const begin = current.indexOf(DOC_BEGIN);
  const end = current.indexOf(DOC_END);
  const next =
    begin >= 0 && end > begin
      ? current.slice(0, begin) + section + current.slice(end + DOC_END.length)
      : `${current.trimEnd()}\n\n${section}\n`;
  writeFileSync(path, next);
}
