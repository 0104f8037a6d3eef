import { decodeSign, encodeSign, isWireSign } from '../../../src/token/thread/protocol';

describe('PKCS#11 thread protocol: flat signature requests', () => {
  const session = Buffer.from('0100000000000000', 'hex');
  const key = Buffer.from('2a00000000000000', 'hex');

  it('carries session, key, data, mechanism and output length through encode and decode unchanged', () => {
    const data = Buffer.from('the message to sign');
    const wire = encodeSign({ id: 7, op: 'sign', session, key, data, mechanism: { mechanism: 0x1041 }, outLen: 64 });
    expect(isWireSign(wire)).toBe(true);
    const r = decodeSign(wire);
    expect(r.id).toBe(7);
    expect(r.mechanism).toEqual({ mechanism: 0x1041 });
    expect(r.outLen).toBe(64);
    expect(r.session.equals(session)).toBe(true);
    expect(r.key.equals(key)).toBe(true);
    expect(r.data.equals(data)).toBe(true);
  });

  it('keeps a mechanism parameter (RSA-PSS) and decodes Buffers that pkcs11js accepts', () => {
    const parameter = { type: 3, hashAlg: 0x250, mgf: 2, saltLen: 32 };
    const wire = encodeSign({
      id: 1,
      op: 'sign',
      session,
      key,
      data: Buffer.alloc(32, 1),
      mechanism: { mechanism: 0x0d, parameter },
      outLen: 256,
    });
    const r = decodeSign(structuredClone(wire));
    expect(r.mechanism).toEqual({ mechanism: 0x0d, parameter });
    expect(Buffer.isBuffer(r.session) && Buffer.isBuffer(r.key) && Buffer.isBuffer(r.data)).toBe(true);
    expect(r.data.equals(Buffer.alloc(32, 1))).toBe(true);
  });

  it('sends only the bytes of a Buffer that views the 8 KiB allocation pool, not the whole pool', () => {
    const pooled = Buffer.from('aGVsbG8gd29ybGQ=', 'base64'); // a small decode: a view of Node's shared pool
    expect(pooled.buffer.byteLength).toBeGreaterThan(pooled.length);
    const wire = encodeSign({ id: 2, op: 'sign', session, key, data: pooled, mechanism: { mechanism: 1 }, outLen: 8 });
    const bytes = wire[6];
    expect(bytes.buffer.byteLength).toBe(session.length + key.length + pooled.length);
    expect(decodeSign(structuredClone(wire)).data.toString()).toBe('hello world');
  });
});
