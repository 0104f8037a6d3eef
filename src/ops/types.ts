import type { z } from 'zod';
import type { Config } from '../config/schema';
import type { Logger } from '../observability/logger';
import type { TokenRegistry } from '../token/tokenRegistry';

/** Products served, with the API version each one speaks. */
export const PRODUCTS = {
  kms: { version: '2016-01-20', ramPrefix: 'kms' },
  cas: { version: '2020-04-07', ramPrefix: 'yundun-cert' },
} as const;
export type Product = keyof typeof PRODUCTS;

/** What an operation handler receives besides its parameters. */
export interface OpContext {
  readonly requestId: string;
  readonly accessKeyId: string;
  readonly tokens: TokenRegistry;
  readonly config: Config;
  readonly log: Logger;
  /** True when the access key may use this certificate identifier (for filtering lists). */
  canUse(certificateId: string): boolean;
  /** Throws `Forbidden.RAM` unless the access key may use this certificate identifier. */
  assertCanUse(certificateId: string): void;
  /** True when the access key may create certificates in this warehouse (`accessKeys[].warehouses`). */
  canCreateIn(warehouseId: number): boolean;
  /** Throws `Forbidden.RAM` unless the access key may create certificates in this warehouse. */
  assertCanCreateIn(warehouseId: number): void;
  /** Most certificates the access key may create (`accessKeys[].maxCertificates`); undefined: no limit. */
  readonly maxCertificates?: number;
  /** Most KMS keys the access key may create (`accessKeys[].maxKeys`); undefined: no limit. */
  readonly maxKeys?: number;
}

/** The response fields of a successful call (PascalCase, without RequestId: the renderer adds it). */
export type OpResult = Record<string, unknown>;

/**
 * One API operation: product, action name, RAM action, parameter schema and handler.
 * The schema reads the merged request parameters (strings); unknown parameters are ignored as the cloud does.
 */
export interface Operation<S extends z.ZodType = z.ZodType, R extends OpResult = OpResult> {
  readonly product: Product;
  readonly action: string;
  /** The RAM action checked against the access key's permissions (`kms:CertificatePrivateKeySign`). */
  readonly ramAction: string;
  readonly params: S;
  /** The certificate identifier the call acts on, for resource-level permissions (undefined: not resource-bound). */
  resource?(params: z.infer<S>): string | undefined;
  /** Answers with the operation's response fields (src/ops/results.ts). */
  handle(ctx: OpContext, params: z.infer<S>): Promise<R>;
}

/** Declares an operation with its parameter type inferred from the schema and its result type from the handler. */
export function defineOperation<S extends z.ZodType, R extends OpResult>(op: Operation<S, R>): Operation<S, R> {
  return op;
}
