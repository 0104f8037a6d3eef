import { spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { resolve } from 'node:path';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';

type Families = ReturnType<typeof parsePrometheusTextFormat>;

/** A scrape, parsed by a real Prometheus text-format parser (a malformed exposition throws). */
export class Scrape {
  readonly families: Families;
  readonly text: string;

  constructor(text: string) {
    this.text = text;
    this.families = parsePrometheusTextFormat(text);
  }

  #samples(name: string, labels: Record<string, string>) {
    const family = this.families.find((f) => f.name === name);
    if (!family) return [];
    return family.metrics.filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  }

  /** The type of a metric family (COUNTER, GAUGE, HISTOGRAM), or undefined when it is not exposed. */
  type(name: string): string | undefined {
    return this.families.find((f) => f.name === name)?.type;
  }

  /** The value of the one counter or gauge sample with these labels (0 when there is none). */
  value(name: string, labels: Record<string, string> = {}): number {
    const found = this.#samples(name, labels);
    if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)}: ${found.length} samples match`);
    return found.length === 0 ? 0 : Number(found[0]?.value);
  }

  /**
   * The observation count of the one histogram series with these labels (0 when there is none). The parser folds a
   * histogram's labelled series into one (its prom2json shape), so the `_count` samples are parsed as a family of
   * their own.
   */
  count(name: string, labels: Record<string, string> = {}): number {
    const series = `${name}_count`;
    const lines = this.text.split('\n').filter((l) => l.startsWith(`${series}{`) || l.startsWith(`${series} `));
    const family = parsePrometheusTextFormat(`# TYPE ${series} counter\n${lines.join('\n')}\n`)[0];
    const found = (family?.metrics ?? []).filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
    if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)}: ${found.length} samples match`);
    return found.length === 0 ? 0 : Number(found[0]?.value);
  }

  /** Every label set of a metric (to check what is and is not exposed). */
  labelSets(name: string): Array<Record<string, string>> {
    return this.#samples(name, {}).map((m) => m.labels ?? {});
  }
}

/** GET http://127.0.0.1:port/metrics, parsed. */
export function scrape(port: number): Promise<Scrape> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode !== 200) {
          reject(new Error(`/metrics answered ${res.statusCode}`));
          return;
        }
        if (!String(res.headers['content-type']).startsWith('text/plain; version=0.0.4')) {
          reject(new Error(`unexpected content type ${res.headers['content-type']}`));
          return;
        }
        try {
          resolve(new Scrape(Buffer.concat(chunks).toString('utf8')));
        } catch (e) {
          reject(e instanceof Error ? e : new Error(String(e)));
        }
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * Prometheus' own checker on an exposition: `promtool check metrics` (format errors and naming lint), from
 * scripts/promtool.sh (Debian's package, unpacked). Resolves with what it reported; empty means clean.
 */
export function promtoolCheck(text: string): { status: number | null; report: string } {
  const located = spawnSync('bash', [resolve(__dirname, '..', '..', 'scripts', 'promtool.sh')], { encoding: 'utf8' });
  if (located.status !== 0) throw new Error(`scripts/promtool.sh failed: ${located.stderr}`);
  const r = spawnSync(located.stdout.trim(), ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: r.status, report: `${r.stdout}${r.stderr}`.trim() };
}
