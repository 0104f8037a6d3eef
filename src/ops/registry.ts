import { ApiError, missingParameter } from '../errors/apiError';
import { PRODUCTS, type Operation, type Product } from './types';

/** Every served operation, found by Action and Version. */
export class OperationRegistry {
  readonly #byKey = new Map<string, Operation>();
  readonly #actions = new Set<string>();

  constructor(operations: readonly Operation[]) {
    for (const op of operations) {
      this.#byKey.set(`${op.action}@${PRODUCTS[op.product].version}`, op);
      this.#actions.add(op.action);
    }
  }

  /**
   * The operation for an Action/Version pair. An action we do not serve under any version is
   * `InvalidAction.NotFound` (404); a known action under another version is `InvalidVersion` (400).
   */
  find(action: string | undefined, version: string | undefined): Operation {
    if (action === undefined || action === '') throw missingParameter('Action');
    if (version === undefined || version === '') throw missingParameter('Version');
    const op = this.#byKey.get(`${action}@${version}`);
    if (op) return op;
    if (this.#actions.has(action)) throw new ApiError('InvalidVersion');
    throw new ApiError('InvalidAction.NotFound');
  }

  /** The product an Action/Version pair belongs to (for the error envelope's Recommend link), if any. */
  productOf(version: string | undefined): Product | undefined {
    for (const [p, v] of Object.entries(PRODUCTS)) if (v.version === version) return p as Product;
    return undefined;
  }
}
