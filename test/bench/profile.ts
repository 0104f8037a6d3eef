/**
 * Summarises a V8 `.cpuprofile` (from the daemon child) per request: where the JS thread spends its time,
 * by function (self and inclusive) and by area, with compiled locations mapped back to the TypeScript source.
 * Also usable alone: `node dist/bench/test/bench/profile.js <file.cpuprofile> [requests]`.
 */
import { LEAST_UPPER_BOUND, originalPositionFor, TraceMap } from '@jridgewell/trace-mapping';
import { existsSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

/** The subset of the DevTools `Profiler.Profile` used here. */
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** One function (or area) with its time, in ms over the profile and µs per request. */
interface ProfileLine {
  readonly name: string;
  readonly location: string;
  readonly ms: number;
  /** Share of the busy (non-idle) time, 0–1. */
  readonly share: number;
  readonly usPerRequest: number;
}

export interface ProfileSummary {
  readonly file: string;
  readonly requests: number;
  /** Wall time covered by the profile, ms. */
  readonly wallMs: number;
  /** JS-thread time not idle, ms (includes GC and native calls made from JS, such as C_SignInit). */
  readonly busyMs: number;
  readonly busyUsPerRequest: number;
  readonly areas: readonly ProfileLine[];
  readonly selfTop: readonly ProfileLine[];
  /** Inclusive time of the project's own functions (src/, test/bench/), largest first. */
  readonly inclusiveTop: readonly ProfileLine[];
}

const SPECIAL = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);

/** The stream_wrap natives behind `socket.write`/`writev`. */
const SOCKET_WRITES = new Set(['writev', 'writeBuffer', 'writeUtf8String', 'writeLatin1String', 'writeAsciiString']);

/** Reads a profile and summarises it; `root` is the project root (for relative paths and area names). */
export function summarizeProfile(file: string, requests: number, root: string, top = 20): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const maps = new SourceMaps();
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of profile.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  // DevTools convention: sample i lasts until sample i+1 (timeDeltas[i+1]).
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    const id = samples[i];
    if (id === undefined) continue;
    const d = deltas[i + 1] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + d);
  }
  const describe = new Map<number, { key: string; name: string; location: string; area: string }>();
  const info = (id: number): { key: string; name: string; location: string; area: string } => {
    let d = describe.get(id);
    if (d) return d;
    const f = byId.get(id)?.callFrame ?? { functionName: '?', url: '', lineNumber: 0, columnNumber: 0 };
    const name = f.functionName || (f.url ? '(anonymous)' : '(native)');
    const location = locate(f, root, maps);
    d = { key: `${name}|${location}`, name, location, area: areaOf(name, location) };
    describe.set(id, d);
    return d;
  };

  // A native frame is charged to the area of its first caller outside node's internals: fs.write's native
  // half to the logger that called it, C_SignInit to the token manager. Socket writes (the kernel's TCP work
  // on loopback) keep an area of their own: both servers pay them.
  const areaFor = (id: number): string => {
    const own = info(id);
    if (own.location !== '(native)' || SPECIAL.has(own.name)) return own.area;
    if (SOCKET_WRITES.has(own.name)) return 'socket writes (kernel TCP)';
    let nearest: string | undefined;
    for (let cur = parent.get(id); cur !== undefined; cur = parent.get(cur)) {
      const a = info(cur);
      if (a.location === '(native)') continue;
      nearest ??= a.area;
      if (!a.location.startsWith('node:')) return a.area;
    }
    return nearest ?? own.area;
  };
  const self = new Map<string, { name: string; location: string; us: number }>();
  const areas = new Map<string, number>();
  const inclusive = new Map<string, { name: string; location: string; us: number }>();
  for (const [id, us] of selfUs) {
    const d = info(id);
    if (d.name === '(idle)') continue;
    const s = self.get(d.key) ?? { name: d.name, location: d.location, us: 0 };
    s.us += us;
    self.set(d.key, s);
    const area = areaFor(id);
    areas.set(area, (areas.get(area) ?? 0) + us);
    // Inclusive: credit every distinct project function on the stack once.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const a = info(cur);
      if (!isProject(a.location) || seen.has(a.key)) continue;
      seen.add(a.key);
      const e = inclusive.get(a.key) ?? { name: a.name, location: a.location, us: 0 };
      e.us += us;
      inclusive.set(a.key, e);
    }
  }
  const wallUs = profile.endTime - profile.startTime;
  const busyUs = [...self.values()].reduce((n, s) => n + s.us, 0);
  const perReq = (us: number): number => (requests > 0 ? us / requests : 0);
  const line = (name: string, location: string, us: number): ProfileLine => ({
    name,
    location,
    ms: us / 1000,
    share: busyUs > 0 ? us / busyUs : 0,
    usPerRequest: perReq(us),
  });
  const sorted = <T extends { us: number }>(m: Iterable<T>): T[] => [...m].sort((a, b) => b.us - a.us);
  return {
    file,
    requests,
    wallMs: wallUs / 1000,
    busyMs: busyUs / 1000,
    busyUsPerRequest: perReq(busyUs),
    areas: sorted([...areas].map(([name, us]) => ({ name, us }))).map((a) => line(a.name, '', a.us)),
    selfTop: sorted(self.values())
      .slice(0, top)
      .map((s) => line(s.name, s.location, s.us)),
    inclusiveTop: sorted(inclusive.values())
      .slice(0, top)
      .map((s) => line(s.name, s.location, s.us)),
  };
}

const isProject = (location: string): boolean => location.startsWith('src/') || location.startsWith('test/bench/');

/** `src/api/rpcHandler.ts:53`, `node_modules/pino/lib/proto.js:190`, `node:internal/…:12`, or `(native)`. */
function locate(f: CallFrame, root: string, maps: SourceMaps): string {
  if (SPECIAL.has(f.functionName) || f.url === '') return '(native)';
  if (!f.url.startsWith('file://')) return `${f.url}:${f.lineNumber + 1}`;
  const path = fileURLToPath(f.url);
  const mapped = maps.original(path, f.lineNumber, f.columnNumber);
  if (mapped) return `${relative(root, mapped.source)}:${mapped.line}`;
  return `${relative(root, path)}:${f.lineNumber + 1}`;
}

/** The area a function belongs to, for the per-area table. */
function areaOf(name: string, location: string): string {
  if (name === '(garbage collector)') return 'GC';
  if (name === '(program)') return 'V8 / native, unattributed (program)';
  if (location === '(native)') return 'native calls from JS (pkcs11js, crypto, http parser…)';
  if (/node_modules\/(pino|sonic-boom|@pinojs|fast-redact|quick-format-unescaped|thread-stream)\//.test(location))
    return 'logging (pino)';
  if (location.startsWith('node_modules/pkcs11js/')) return 'src/token (session pool, sign)';
  if (location.includes('node_modules/zod/')) return 'zod (parameter validation)';
  if (location.startsWith('node_modules/')) return 'other node_modules';
  if (location.startsWith('src/api/auth/')) return 'src/api/auth (V3 verification)';
  if (location.startsWith('src/api/')) return 'src/api (RPC parse, route, render)';
  if (location.startsWith('src/ops/')) return 'src/ops';
  if (location.startsWith('src/token/')) return 'src/token (session pool, sign)';
  if (location.startsWith('src/crypto/')) return 'src/crypto';
  if (location.startsWith('src/')) return 'src (other)';
  if (location.startsWith('test/bench/')) return 'reference server (test/bench)';
  if (/^node:(internal\/)?(_?http|internal\/http)/.test(location) || location.includes('_http_')) return 'node http';
  if (/^node:(internal\/)?(net|stream|streams|events|internal\/streams|internal\/stream_base)/.test(location))
    return 'node net / streams / events';
  if (location.startsWith('node:internal/crypto')) return 'node crypto (JS side)';
  if (location.startsWith('node:internal/timers') || location.startsWith('node:internal/process'))
    return 'node timers / microtasks';
  if (location.startsWith('node:')) return 'node (other)';
  return 'other';
}

/** tsc's source maps, read with @jridgewell/trace-mapping: a JS position → the TypeScript file and line. */
class SourceMaps {
  readonly #maps = new Map<string, TraceMap | null>();

  original(jsPath: string, line0: number, col0: number): { source: string; line: number } | undefined {
    const map = this.#load(jsPath);
    if (!map) return undefined;
    // The segment at or before the column; a column before the line's first segment takes that first one.
    const at = { line: line0 + 1, column: col0 };
    let pos = originalPositionFor(map, at);
    if (pos.source === null) pos = originalPositionFor(map, { ...at, bias: LEAST_UPPER_BOUND });
    return pos.source !== null && pos.line !== null ? { source: pos.source, line: pos.line } : undefined;
  }

  #load(jsPath: string): TraceMap | null {
    const cached = this.#maps.get(jsPath);
    if (cached !== undefined) return cached;
    let result: TraceMap | null = null;
    const mapPath = `${jsPath}.map`;
    if (existsSync(mapPath)) {
      try {
        result = new TraceMap(readFileSync(mapPath, 'utf8'), mapPath);
      } catch {
        result = null;
      }
    }
    this.#maps.set(jsPath, result);
    return result;
  }
}

/** Plain-text rendering of a summary (for the terminal). */
export function formatProfile(title: string, s: ProfileSummary): string {
  const row = (l: ProfileLine): string =>
    `  ${l.usPerRequest.toFixed(1).padStart(7)} µs/req ${(l.share * 100).toFixed(1).padStart(5)}%  ${l.name}${l.location ? `  ${l.location}` : ''}`;
  return [
    `${title}: ${s.requests} requests, JS thread busy ${s.busyMs.toFixed(0)} of ${s.wallMs.toFixed(0)} ms = ${s.busyUsPerRequest.toFixed(1)} µs/req (${s.file})`,
    ' by area (self time):',
    ...s.areas.map(row),
    ' top functions (self time):',
    ...s.selfTop.map(row),
    ' project functions (inclusive time):',
    ...s.inclusiveTop.map(row),
  ].join('\n');
}

/**
 * Daemon minus reference, per area, µs per request: what the daemon's JS thread does that the bare reference
 * does not (authentication, envelope, logging…), and what both do alike (the token's C_SignInit, the socket).
 */
export function formatProfileDiff(title: string, daemon: ProfileSummary, reference: ProfileSummary): string {
  const names = [...new Set([...daemon.areas, ...reference.areas].map((a) => a.name))];
  const get = (s: ProfileSummary, n: string): number => s.areas.find((a) => a.name === n)?.usPerRequest ?? 0;
  const rows = names
    .map((n) => ({ n, d: get(daemon, n), r: get(reference, n) }))
    .sort((a, b) => b.d - b.r - (a.d - a.r));
  return [
    `${title}: JS-thread µs/req by area, daemon vs reference (difference first)`,
    `  ${'diff'.padStart(7)} ${'daemon'.padStart(7)} ${'ref'.padStart(7)}  area`,
    ...rows.map(
      (x) =>
        `  ${(x.d - x.r).toFixed(1).padStart(7)} ${x.d.toFixed(1).padStart(7)} ${x.r.toFixed(1).padStart(7)}  ${x.n}`,
    ),
    `  ${(daemon.busyUsPerRequest - reference.busyUsPerRequest).toFixed(1).padStart(7)} ${daemon.busyUsPerRequest
      .toFixed(1)
      .padStart(7)} ${reference.busyUsPerRequest.toFixed(1).padStart(7)}  total`,
  ].join('\n');
}

if (require.main === module) {
  const [file, requests] = process.argv.slice(2);
  if (!file) {
    console.error('usage: node profile.js <file.cpuprofile> [requests]');
    process.exit(2);
  }
  console.log(formatProfile(file, summarizeProfile(file, Number(requests ?? 0), process.cwd())));
}
