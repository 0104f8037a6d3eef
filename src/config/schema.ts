import { z } from 'zod';

/**
 * The one place a setting is named. Every key is documented in docs/configuration.md.
 * Objects are strict: an unknown key is an error that names its path.
 */
const secretRef = z.union([z.strictObject({ env: z.string().min(1) }), z.strictObject({ file: z.string().min(1) })]);

const port = z.number().int().min(0).max(65535);

/**
 * HTTPS on the serving port (issue 16). With it set the port speaks TLS only; HSTS is sent only then. Files are
 * re-read on reload, so a renewed certificate is served to new connections without a restart.
 */
const tlsSchema = z
  .strictObject({
    /** PEM: the server certificate, then its chain. */
    certFile: z.string().min(1),
    /** The PEM private key: a secret reference like the PIN (a file must be 0600 or stricter). */
    keyFile: secretRef,
    /** PEM CA certificates that issue client certificates; with it, clients are asked for one (mTLS). */
    clientCaFile: z.string().min(1).optional(),
    /** Refuse the TLS handshake of a client without a certificate issued by `clientCaFile`. */
    requireClientCert: z.boolean().default(false),
    minVersion: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2'),
  })
  .refine((t) => !t.requireClientCert || t.clientCaFile !== undefined, {
    message: 'requireClientCert needs clientCaFile',
    path: ['clientCaFile'],
  });

/** How a scraper authenticates to the metrics listener: a bearer token, or HTTP basic auth. */
const metricsAuthSchema = z.union([
  z.strictObject({ bearerToken: secretRef }),
  z.strictObject({
    username: z
      .string()
      .min(1)
      .regex(/^[^:]*$/, 'a basic-auth username has no ":"'),
    password: secretRef,
  }),
]);

/**
 * Bounds applied before any work is done for a request (issue 16): a slow or idle peer costs a socket for at
 * most `headersTimeoutMs`, and a request with too many or too large parameters is refused before its signature
 * is computed.
 */
const limitsSchema = z
  .strictObject({
    /** Open connections per serving process; past it new connections are closed at once. */
    maxConnections: z.number().int().min(1).default(4096),
    /** Time to receive the request line and headers (also bounds an idle new connection and the TLS handshake). */
    headersTimeoutMs: z.number().int().min(100).default(10000),
    /** Time to receive the whole request; must exceed `headersTimeoutMs`. */
    requestTimeoutMs: z.number().int().min(100).default(30000),
    /** How long an idle keep-alive connection stays open between requests. */
    keepAliveTimeoutMs: z.number().int().min(0).default(5000),
    /** Most parameters (query and form body together) in one request. */
    maxParameters: z.number().int().min(16).default(64),
    /** Largest parameter value in bytes, once decoded (a PEM chain for UploadCertificate fits). */
    maxParameterBytes: z.number().int().min(1024).default(32768),
  })
  .refine((l) => l.headersTimeoutMs < l.requestTimeoutMs, {
    message: 'headersTimeoutMs must be shorter than requestTimeoutMs',
    path: ['headersTimeoutMs'],
  });

const serverSchema = z.strictObject({
  host: z.string().default('127.0.0.1'),
  port: port.default(8080),
  /** Node's default is 16 KiB; signatures and certificates ride in the URL (protocol §2). */
  maxHeaderSize: z.number().int().min(16384).default(65536),
  /** Largest accepted form body, in bytes. */
  bodyLimit: z.number().int().min(1024).default(65536),
  /** `HostId` in error envelopes; default: the request's Host header. */
  hostId: z.string().optional(),
  /**
   * Worker processes serving the port (node:cluster), each with its own PKCS#11 module instance, login and
   * session pool; the primary holds the replay window they share. `auto`: one per core, at most 4. The token
   * must allow `workers × (sessions.size + 1)` sessions.
   */
  workers: z.union([z.literal('auto'), z.number().int().min(1).max(64)]).default('auto'),
  /** Cluster supervision (src/cluster/primary.ts). */
  supervision: z
    .strictObject({
      /** A worker whose event loop has not reported for this long is stuck: it is killed and replaced. */
      heartbeatTimeoutMs: z.number().int().min(1000).default(10000),
      /** When no worker has been able to serve for this long, the primary exits non-zero (the supervisor acts). */
      noServeExitMs: z.number().int().min(1000).default(30000),
    })
    .prefault({}),
  /** How long a graceful shutdown waits for in-flight requests before closing anyway. */
  shutdownTimeoutMs: z.number().int().min(0).default(10000),
  /** Region and account used to build ARNs (`acs:kms:<region>:<account>:certificate/<id>`). */
  regionId: z.string().default('cn-hangzhou'),
  accountId: z.string().default('1234567890123456'),
  tls: tlsSchema.optional(),
  limits: limitsSchema.prefault({}),
  /** Where `serve` writes its process id, for `p11bridge reload` (the demo uses `<home>/p11bridge.pid`). */
  pidFile: z.string().min(1).optional(),
});

/** A PKCS#11 CK_ULONG code (key type or mechanism): a number, or a `0x…` string (YAML also reads bare 0x… as a number). */
const ckCode = z.union([
  z.number().int().min(0).max(0xffffffff),
  z
    .string()
    .regex(/^0x[0-9a-f]{1,8}$/i, 'expected a number or a hexadecimal 0x… string')
    .transform((v) => Number.parseInt(v, 16)),
]);

/**
 * An SM2 HSM profile: the vendor's numbers for SM2 (PKCS#11 defines none) and how its mechanisms behave. Samples
 * with their sources are in docs/hsm/; the daemon proves the profile on the token at start (src/token/sm2Probe.ts).
 */
export const sm2ProfileSchema = z
  .strictObject({
    /** Who defines these numbers: logs and docs only. */
    vendor: z.string().min(1),
    /** CKA_KEY_TYPE of the vendor's SM2 keys (CKK_VENDOR_DEFINED + n), or 0x3 (CKK_EC) for EC keys on sm2p256v1. */
    keyType: ckCode,
    mechanisms: z.strictObject({
      /** SM2 key pair generation. */
      keyPairGen: ckCode,
      /** SM2 signature: over e (GB/T 32918.2 §6.1) or over the message, as `signInput` says. */
      sign: ckCode.optional(),
      /** SM3-with-SM2 over the message (the token computes Z_A with its default ID). */
      sm3WithSm2: ckCode.optional(),
      /** SM2 public-key encryption and decryption (SM2PKE). */
      encrypt: ckCode.optional(),
      /** SM3 digest (checked against GB/T 32905 at start). */
      sm3: ckCode.optional(),
    }),
    /** What `mechanisms.sign` takes: the 32-byte e, or the message. */
    signInput: z.enum(['e', 'message']).default('e'),
    /** What the signing mechanisms return: raw r‖s, or DER SEQUENCE { r, s } (X9.62). */
    signatureFormat: z.enum(['raw', 'der']).default('raw'),
    /** The ciphertext format of `mechanisms.encrypt`: GM/T 0009 ASN.1, or C1‖C3‖C2 / C1‖C2‖C3. */
    ciphertextFormat: z.enum(['gmt0009', 'c1c3c2', 'c1c2c3']).default('gmt0009'),
    /** Put CKA_EC_PARAMS (the sm2p256v1 OID) into key generation templates. */
    keyGenEcParams: z.boolean().default(true),
    /** Distinguishing ID of the API's SM2 signatures (Z_A); Alibaba Cloud uses the default. */
    userId: z
      .string()
      .min(1)
      .refine((v) => Buffer.byteLength(v, 'utf8') <= 8191, 'at most 8191 bytes (ENTL is 16 bits)')
      .default('1234567812345678'),
  })
  .refine((p) => p.mechanisms.sign !== undefined || p.mechanisms.sm3WithSm2 !== undefined, {
    message: 'set mechanisms.sign or mechanisms.sm3WithSm2',
  });

export const tokenSchema = z
  .strictObject({
    /** The CAS `WarehouseId` (`WhId`) of this token. */
    warehouseId: z.number().int().min(1),
    name: z.string().min(1),
    /** Path of the PKCS#11 module (.so). */
    module: z.string().min(1).default('/usr/lib/softhsm/libsofthsm2.so'),
    /**
     * The module's C_Initialize library parameters (`CK_C_INITIALIZE_ARGS.pReserved`, NSS's extended form), for
     * modules that cannot start without them: NSS's softoken needs `configdir='sql:DIR' certPrefix='' ...`
     * (docs/hsm/nss-softoken.md). Tokens of one module share one library instance per process, so they must agree.
     */
    moduleParameters: z.string().min(1).optional(),
    /** Select the token by label or serial, never by slot index (SoftHSM2 renumbers slots). */
    tokenLabel: z.string().optional(),
    tokenSerial: z.string().optional(),
    pin: secretRef,
    sessions: z
      .strictObject({
        /** Sessions in the pool: one in-flight operation each (two calls on one session crash SoftHSM2). */
        size: z.number().int().min(1).max(256).default(4),
        /** Requests allowed to wait for a session; beyond it they are refused at once with Throttling.User. */
        maxWaiting: z.number().int().min(0).default(256),
        /** Longest wait for a session before the request is refused with Throttling.User. */
        acquireTimeoutMs: z.number().int().min(1).default(5000),
      })
      .prefault({}),
    /**
     * How often the key index is re-read from the token, so that certificates created, re-statused or deleted by
     * another daemon (or the CLI) in front of the same token are seen; 0 turns it off.
     */
    indexRefreshMs: z.number().int().min(0).default(5000),
    /**
     * When the token refuses a key template's usage restriction (tpm2-pkcs11: its keys always sign and decrypt):
     * `prefer` makes the key without it, records the weaker token-side restriction on the identity (the API still
     * refuses the usage not granted) and reports it; `require` refuses to make such a key. Sensitivity and
     * non-extractability are never relaxed.
     */
    keyUsageRestriction: z.enum(['prefer', 'require']).default('prefer'),
    /** What to do with a private key that is extractable or not sensitive: refuse to serve it, or warn. */
    insecureKeys: z.enum(['refuse', 'warn']).default('refuse'),
    /**
     * Where each identity's lifecycle metadata and each KMS key record live: `token` (data objects on the token,
     * decision 0013) or `file` (the JSON file `metadataFile`, each record authenticated by an HMAC key generated in
     * the token), for tokens that refuse data objects (NSS's softoken). Decision 0031.
     */
    metadataStore: z.enum(['token', 'file']).default('token'),
    /** The record file of `metadataStore: file` (one per token; keep it beside the token's own database). */
    metadataFile: z.string().min(1).optional(),
    /**
     * Deadlines of token calls. A call that passes its deadline is answered at once with the service-unavailable
     * error; the token is reported unavailable until it answers again (docs/hsm/README.md).
     */
    timeouts: z
      .strictObject({
        /** Signing, decryption, object reads and writes, login. */
        operationMs: z.number().int().min(10).default(5000),
        /** Key pair generation (RSA-3072 on a slow HSM takes seconds) and full index reads. */
        keyGenerationMs: z.number().int().min(10).default(60000),
        /** C_Initialize / C_Finalize (a network HSM client connects in C_Initialize). */
        initializeMs: z.number().int().min(10).default(30000),
        /** How long a start retries a token that is not (yet) there before it fails. */
        startMs: z.number().int().min(0).default(30000),
      })
      .prefault({}),
    /** The recovery ladder (docs/hsm/README.md): backoff, and when to take the last rung (exit non-zero). */
    recovery: z
      .strictObject({
        initialDelayMs: z.number().int().min(0).default(200),
        maxDelayMs: z.number().int().min(0).default(10000),
        /** Longest wait for in-flight calls before a module re-initialisation; past it the process exits. */
        drainMs: z.number().int().min(0).default(60000),
        /** Module re-initialisations allowed within `windowMs`; one more and the process exits. */
        maxRecoveries: z.number().int().min(1).default(5),
        windowMs: z.number().int().min(1000).default(120000),
        /** A call stuck in the token this long (a hang that never ends) is the last rung: the process exits. */
        stuckExitMs: z.number().int().min(1000).default(120000),
      })
      .prefault({}),
    /**
     * For an HSM that closes sessions idle this long (network HSMs: seconds to minutes): a keepalive touches idle
     * sessions three times per period. Unset: no keepalive (SoftHSM2 and most local tokens keep sessions forever).
     */
    sessionIdleTimeoutMs: z.number().int().min(300).optional(),
    /** What /readyz and the metrics call DEGRADED (docs/operations.md "Health"). */
    health: z
      .strictObject({
        /** How long a failed call (not for bad input) or a slow one keeps the token DEGRADED. */
        windowMs: z.number().int().min(100).default(60000),
        /** A call (signing, decryption, a lookup) that took at least this long is slow. */
        slowCallMs: z.number().int().min(1).default(1000),
      })
      .prefault({}),
    /** The token's SM2 HSM profile; without one, SM2 requests are answered with UnsupportedOperation. */
    sm2: sm2ProfileSchema.optional(),
    /**
     * What CAS reports about this token's warehouse, for clients that pace or plan with it (not enforced here):
     * `ListCertWarehouse.Qps` and its share of `GetCertWarehouseQuota.TotalQuota`.
     */
    warehouse: z
      .strictObject({
        /** Requests per second a client should stay under (the cloud's example is 10). */
        qps: z.number().int().min(1).default(100),
        /** Certificate identities this warehouse is meant to hold. */
        quota: z.number().int().min(1).default(1000),
      })
      .prefault({}),
  })
  .refine((t) => t.tokenLabel !== undefined || t.tokenSerial !== undefined, {
    message: 'set tokenLabel or tokenSerial',
  })
  .refine((t) => (t.metadataStore === 'file') === (t.metadataFile !== undefined), {
    message: 'metadataStore file needs metadataFile (and metadataFile needs metadataStore file)',
    path: ['metadataFile'],
  });

const accessKeySchema = z.strictObject({
  id: z.string().min(1),
  secret: secretRef,
  enabled: z.boolean().default(true),
  /** RAM actions this key may call (`kms:CertificatePrivateKeySign`, `yundun-cert:Sign`, `kms:*`, or `*`). */
  actions: z.array(z.string().min(1)).default(['*']),
  /** Certificate identifiers this key may use, or `*`. */
  certificates: z.array(z.string().min(1)).default(['*']),
  /** Warehouses (tokens, by `warehouseId`) where this key may create certificates, or `*`. */
  warehouses: z.array(z.union([z.literal('*'), z.number().int().min(1)])).default(['*']),
  /** Most certificates this key may create with CreateCertificate (counted on the tokens); unset: no limit. */
  maxCertificates: z.number().int().min(0).optional(),
  /** Most KMS keys this key may create with CreateKey (counted on the tokens, by creator); unset: no limit. */
  maxKeys: z.number().int().min(0).optional(),
  /** Sustained requests per second this key may make (per daemon); unset: no limit. */
  qps: z.number().positive().optional(),
  /** Requests this key may make at once above `qps` (the token bucket's size); default: max(1, qps). */
  burst: z.number().int().min(1).optional(),
  /**
   * Bind the key to a client certificate (mTLS, `server.tls.clientCaFile`): a request signed with it is refused
   * unless it arrives on a TLS connection whose verified client certificate matches.
   */
  clientCertificate: z
    .union([
      z.strictObject({ sha256: z.string().regex(/^([0-9A-Fa-f]{2}:?){32}$/, 'expected a SHA-256 fingerprint') }),
      z.strictObject({ subject: z.string().min(1) }),
    ])
    .optional(),
  description: z.string().optional(),
});

/**
 * The audit log (issue 18, docs/operations.md "Audit log"): one hash-chained JSON line per private-key operation,
 * lifecycle change, refused request (auth, permission, throttling) and reload, with checkpoints signed by an audit
 * key pair that lives in the token. Absent: no audit log.
 */
const auditSchema = z.strictObject({
  /** The JSON-lines file. With cluster workers each worker writes `<name>-w<slot><ext>` (decision 0026). */
  file: z.string().min(1),
  /** Fail closed: a private-key operation whose entry cannot be written is refused (service unavailable). */
  required: z.boolean().default(false),
  /**
   * What "written" means before a required entry's answer is sent: `write` (handed to the OS with write(2): survives
   * the process, not a power loss) or `fsync` (also fdatasync'd, one per batch of entries).
   */
  durability: z.enum(['write', 'fsync']).default('write'),
  /** Longest wait for a required entry to be written before the operation is refused. */
  writeTimeoutMs: z.number().int().min(10).default(5000),
  /** A checkpoint (the chain head signed by the audit key) after this many entries or seconds, whichever first. */
  checkpoint: z
    .strictObject({
      entries: z.number().int().min(1).default(1000),
      seconds: z.number().int().min(1).default(60),
    })
    .prefault({}),
  /** Start a new file past this size or age; the chain continues across files. */
  rotate: z
    .strictObject({
      maxBytes: z.number().int().min(4096).default(104857600),
      /** 0: no rotation by age. */
      maxAgeSeconds: z.number().int().min(0).default(0),
    })
    .prefault({}),
  /** The audit key pair: generated in the token (sensitive, never extractable) when it is not there yet. */
  key: z
    .strictObject({
      /** The token (by `name`) that holds it; default: the first token. */
      token: z.string().min(1).optional(),
      /** CKA_LABEL of the key pair (a `/` keeps it out of the certificate identities). */
      label: z.string().min(1).default('p11bridge/audit'),
    })
    .prefault({}),
  /** Where the audit public key is written as PEM for offline verification; default: `<file>.key.pem`. */
  publicKeyFile: z.string().min(1).optional(),
  /** Refused requests are audited at most this many per second (burst: `refusalBurst`); the rest are counted. */
  refusalsPerSecond: z.number().positive().default(20),
  refusalBurst: z.number().int().min(1).default(100),
});

/**
 * Where the replay window lives (issue 17, docs/decisions/0024-replay-store.md). `memory`: in this daemon (the
 * cluster primary holds it for its workers); a restart refuses requests signed before it started. `redis`: one
 * window for every replica and restart, and the per-key rates shared by all of them; Redis unreachable means
 * requests are refused at once with the service-unavailable error (fail closed).
 */
const replaySchema = z
  .strictObject({
    store: z.enum(['memory', 'redis']).default('memory'),
    /**
     * `redis://[user@]host:port[/db]` or `rediss://…` (TLS). With `redisMode` `sentinel` or `cluster`, a comma-separated
     * list of addresses: `redis://h1:26379,h2:26379` (`P11BRIDGE_REDIS_URL` overrides). No password here: see below.
     */
    redisUrl: z.string().min(1).optional(),
    /** `single` (one server), `sentinel` (the addresses are sentinels of `redisSentinelName`), `cluster` (seed nodes). */
    redisMode: z.enum(['single', 'sentinel', 'cluster']).default('single'),
    /** The Sentinel master name (`redisMode: sentinel`). */
    redisSentinelName: z.string().min(1).optional(),
    /** The Redis password (AUTH), as a secret reference. */
    redisPassword: secretRef.optional(),
    /** Prefix of every key and channel, so several deployments can share one Redis. */
    redisKeyPrefix: z.string().min(1).default('p11bridge:'),
    /** A Redis command not answered within this is failed (the request gets the service-unavailable error). */
    redisTimeoutMs: z.number().int().min(10).max(10000).default(500),
    /**
     * Memory store: refuse a request whose signed timestamp is before this process started (the window of the
     * previous process is gone, so such a request could be a replay).
     */
    refuseSignedBeforeStart: z.boolean().default(true),
  })
  .refine((r) => r.store !== 'redis' || r.redisUrl !== undefined, {
    message: 'store redis needs redisUrl (or P11BRIDGE_REDIS_URL)',
    path: ['redisUrl'],
  })
  .refine((r) => r.redisMode !== 'sentinel' || r.redisSentinelName !== undefined, {
    message: 'redisMode sentinel needs redisSentinelName',
    path: ['redisSentinelName'],
  });

export const configSchema = z.strictObject({
  server: serverSchema.prefault({}),
  tokens: z
    .array(tokenSchema)
    .min(1)
    .superRefine((tokens, ctx) => {
      // One module is initialised once per process (the first C_Initialize wins): parameters that differ between
      // two tokens of it would silently apply the first token's to both.
      const first = new Map<string, string | undefined>();
      // A record file holds one token's records, authenticated by that token's key: shared, each token would
      // overwrite the other's and refuse them all.
      const files = new Set<string>();
      tokens.forEach((t, i) => {
        if (t.metadataFile !== undefined) {
          if (files.has(t.metadataFile)) {
            ctx.addIssue({
              code: 'custom',
              path: [i, 'metadataFile'],
              message: 'each token needs its own metadataFile',
            });
          }
          files.add(t.metadataFile);
        }
        if (!first.has(t.module)) first.set(t.module, t.moduleParameters);
        else if (first.get(t.module) !== t.moduleParameters) {
          ctx.addIssue({
            code: 'custom',
            path: [i, 'moduleParameters'],
            message: `tokens of module ${t.module} must have the same moduleParameters (one library instance per process)`,
          });
        }
      });
    }),
  auth: z.strictObject({
    /** Allowed clock skew of `Timestamp` / `x-acs-date` (the cloud allows 15 minutes). */
    maxSkewSeconds: z.number().int().min(1).default(900),
    /** How long a nonce is remembered (the cloud: 31 minutes). */
    nonceTtlSeconds: z.number().int().min(60).default(1860),
    /** Upper bound on remembered nonces (at most 36 bytes each; 8M cover 4,300 requests/s for 31 minutes). */
    nonceMaxEntries: z.number().int().min(1000).default(8_000_000),
    /**
     * Accept V1 (HMAC-SHA1) requests without `SignatureNonce`, as the legacy `@alicloud/kms-sdk` sends them (KMS
     * does not list the nonce among its common parameters). Weaker: such a request is protected against replay by
     * the timestamp window (`maxSkewSeconds`) only. V3 always needs its nonce.
     */
    allowV1WithoutNonce: z.boolean().default(false),
    replay: replaySchema.prefault({}),
    accessKeys: z.array(accessKeySchema).min(1),
  }),
  /** Fail-closed rules on what keys may do (issue 16). */
  policy: z
    .strictObject({
      /**
       * Certificate identifiers of CA keys (basicConstraints cA=TRUE) that may sign through the API. Any other
       * CA key is refused as a signer: signing arbitrary digests with it would forge certificates.
       */
      caSigners: z.array(z.string().min(1)).default([]),
    })
    .prefault({}),
  cas: z
    .strictObject({
      /** How `MessageType=RAW` is read: the literal UTF-8 string (2026 docs) or base64 (older docs). */
      rawMessageEncoding: z.enum(['utf8', 'base64']).default('utf8'),
      /**
       * `Sign` with `MessageType=BLIND` (RSA blind signing): a raw RSA private-key operation, i.e. a universal
       * signature and a decryption oracle for the key, so it is off unless a certificate is listed here (and its
       * key may not decrypt). The demo lists its RSA certificate.
       */
      blindSigning: z
        .strictObject({
          /** CAS `CertIdentifier`s whose keys may sign blinded messages. */
          certificates: z.array(z.string().min(1)).default([]),
        })
        .prefault({}),
      p7: z
        .strictObject({
          /** Embed the content in the CMS SignedData (default: detached). */
          attached: z.boolean().default(false),
          /** Include the chain after the signer certificate. */
          includeChain: z.boolean().default(true),
        })
        .prefault({}),
    })
    .prefault({}),
  /**
   * Prometheus metrics (docs/operations.md "Metrics"): served on their own listener, loopback by default, never on
   * the API port (docs/decisions/0025-metrics-and-health.md). In a cluster the primary serves the sum of its workers.
   */
  metrics: z
    .strictObject({
      enabled: z.boolean().default(false),
      /** Address of the metrics listener; anything but loopback exposes request counts and key ids to the network. */
      host: z.string().default('127.0.0.1'),
      /** Port of the metrics listener (0: any free port, for tests). */
      port: port.default(9464),
      /** HTTPS on the metrics listener: the same settings as `server.tls` (a client CA asks scrapers for mTLS). */
      tls: tlsSchema.optional(),
      /**
       * Scrapes must authenticate (decision 0030): `bearerToken` (Prometheus `authorization.credentials_file`) or
       * `username` + `password` (`basic_auth.password_file`). Secret references, read at start, never logged.
       */
      auth: metricsAuthSchema.optional(),
    })
    .prefault({}),
  logging: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      /**
       * One line per RPC request (RequestId, AccessKeyId, client address, Action, identity, status, Code, latency),
       * at level info.
       */
      accessLog: z.boolean().default(true),
      /** `auto`: human-readable lines on a terminal, JSON lines otherwise (a pipe, a file, journald). */
      format: z.enum(['auto', 'json', 'pretty']).default('auto'),
    })
    .prefault({}),
  audit: auditSchema.optional(),
});

export type Config = z.infer<typeof configSchema>;
export type TokenConfig = z.infer<typeof tokenSchema>;
export type ReplayConfig = z.infer<typeof replaySchema>;
export type AccessKeyConfig = z.infer<typeof accessKeySchema>;
export type AuditConfig = z.infer<typeof auditSchema>;
