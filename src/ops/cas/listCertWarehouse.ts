import { z } from 'zod';
import { fuzzyMatch, page, pagingParams, warehouseInstanceId } from '../shared/repository';
import type { ListCertWarehouseResult } from '../results';
import { defineOperation } from '../types';

/** `EndTime` of a warehouse that never expires: 9999-12-31T23:59:59Z in epoch milliseconds. */
const NEVER_EXPIRES = Date.UTC(9999, 11, 31, 23, 59, 59);

/** A token's warehouse type: `uploadPCA`, "certificate repository of uploaded private certificates". */
const WAREHOUSE_TYPE = 'uploadPCA';

/**
 * CAS `ListCertWarehouse` (2020-04-07): one warehouse per configured token. `Qps` is the token's configured
 * `warehouse.qps` (never 0: a client may divide by it), `EndTime` is 9999-12-31 and `IsExpired` false.
 */
export const listCertWarehouse = defineOperation({
  product: 'cas',
  action: 'ListCertWarehouse',
  ramAction: 'yundun-cert:ListCertWarehouse',
  params: z.object({
    Name: z.string().optional(),
    InstanceId: z.string().optional(),
    Type: z.string().optional(),
    ...pagingParams,
  }),
  async handle(ctx, p): Promise<ListCertWarehouseResult> {
    const rows = ctx.tokens.tokens
      .map((token) => ({
        WhId: token.warehouseId,
        InstanceId: warehouseInstanceId(token.warehouseId),
        Name: token.config.name,
        Qps: token.config.warehouse.qps,
        Type: WAREHOUSE_TYPE,
        EndTime: NEVER_EXPIRES,
        IsExpired: false,
      }))
      .filter(
        (w) =>
          fuzzyMatch(p.Name, [w.Name]) &&
          (p.InstanceId === undefined || p.InstanceId === '' || w.InstanceId === p.InstanceId) &&
          (p.Type === undefined || p.Type === '' || w.Type === p.Type),
      )
      .sort((a, b) => a.WhId - b.WhId);
    const { items, ...paging } = page(rows, p);
    return { ...paging, CertWarehouseList: items };
  },
});
