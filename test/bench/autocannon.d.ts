/** The part of autocannon 9's programmatic API the benchmark uses (the package ships no types). */
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events';

  namespace autocannon {
    interface Request {
      method?: string;
      path?: string;
      headers?: Record<string, string>;
      body?: string | Buffer;
      /** Called before every send when present: the request is rebuilt each time (a fresh signature here). */
      setupRequest?: (request: Request, context: Record<string, unknown>) => Request | null | undefined;
    }

    interface Options {
      url: string;
      connections?: number;
      /** Seconds. */
      duration?: number;
      pipelining?: number;
      /** Seconds. */
      timeout?: number;
      method?: string;
      requests?: Request[];
    }

    interface Result {
      '2xx': number;
      non2xx: number;
      errors: number;
      timeouts: number;
      totalCompletedRequests: number;
      /** Seconds, 10 ms resolution. */
      duration: number;
    }

    /**
     * The run: emits `response(client, statusCode, bytes, responseTimeMs)` for every answer, the response time
     * in ms with sub-millisecond precision (the result's histograms round to whole ms).
     */
    interface Instance extends EventEmitter {
      stop(): void;
    }
  }

  function autocannon(
    options: autocannon.Options,
    callback: (err: Error | null, result: autocannon.Result) => void,
  ): autocannon.Instance;

  export = autocannon;
}
