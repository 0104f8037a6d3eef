import { casSign } from './cas/sign';
import { certificatePrivateKeySign } from './kms/certificatePrivateKeySign';
import { OperationRegistry } from './registry';
import type { Operation } from './types';

/** Every operation the daemon serves. Adding an operation is adding a file and a line here. */
export const OPERATIONS: readonly Operation[] = [certificatePrivateKeySign, casSign] as readonly Operation[];

/** The registry of all served operations. */
export function createOperationRegistry(): OperationRegistry {
  return new OperationRegistry(OPERATIONS);
}
