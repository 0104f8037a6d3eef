import * as pkcs11 from 'pkcs11js';
import { ciphertextRefusal, ckrName, classify, describeFault, isChangedUnderneath } from '../../../src/token/ckr';
import { TokenFault } from '../../../src/token/faults';
import { CKR_TABLE } from '../../helpers/ckrClasses';

const err = (code: number): Error => new pkcs11.Pkcs11Error(ckrName(code), code, 'C_Test');

describe('the CKR sorter', () => {
  it.each(CKR_TABLE)('names %s and sorts it into its rung', (name, code, fault) => {
    expect(ckrName(code)).toBe(name);
    expect(classify(err(code))).toBe(fault);
  });

  it('treats an error that crossed a thread as the same PKCS#11 error (a numeric code)', () => {
    expect(classify(Object.assign(new Error('x'), { code: pkcs11.CKR_DEVICE_REMOVED }))).toBe('device');
  });

  it('sorts anything that is not a PKCS#11 error as internal', () => {
    expect(classify(new Error('boom'))).toBe('internal');
    expect(classify('boom')).toBe('internal');
  });

  it('reads CKR_BUFFER_TOO_SMALL from C_GetAttributeValue as an object that changed while it was read', () => {
    // The patched pkcs11js reports a value that appeared or grew between its length and value calls so.
    expect(isChangedUnderneath(err(pkcs11.CKR_BUFFER_TOO_SMALL))).toBe(true);
    expect(isChangedUnderneath(Object.assign(new Error('x'), { code: pkcs11.CKR_BUFFER_TOO_SMALL }))).toBe(true);
    expect(isChangedUnderneath(err(pkcs11.CKR_OBJECT_HANDLE_INVALID))).toBe(false);
    expect(isChangedUnderneath(new Error('CKR_BUFFER_TOO_SMALL'))).toBe(false);
  });

  it('names unknown codes in hex for the log', () => {
    expect(ckrName(0x8000_1234)).toBe('CKR_0x80001234');
    expect(describeFault(new TokenFault('timeout', 'late'))).toBe('timeout: late');
  });

  it('reads a token refusal of a ciphertext (an input-class or unclassified CKR) as its CKR name', () => {
    // SoftHSM2 answers a bad OAEP encoding with CKR_GENERAL_ERROR (unclassified: answered as InternalError).
    expect(ciphertextRefusal(err(pkcs11.CKR_GENERAL_ERROR))).toBe('CKR_GENERAL_ERROR');
    expect(ciphertextRefusal(err(pkcs11.CKR_ENCRYPTED_DATA_INVALID))).toBe('CKR_ENCRYPTED_DATA_INVALID');
  });

  it('does not read a busy or broken token, or an error without a CKR, as a refused ciphertext', () => {
    expect(ciphertextRefusal(new TokenFault('busy', 'x'))).toBeUndefined();
    expect(ciphertextRefusal(err(pkcs11.CKR_DEVICE_REMOVED))).toBeUndefined();
    expect(ciphertextRefusal(err(pkcs11.CKR_SESSION_HANDLE_INVALID))).toBeUndefined();
    expect(ciphertextRefusal(new Error('boom'))).toBeUndefined();
  });
});
