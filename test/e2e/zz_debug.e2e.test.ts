import { startTestDaemon } from '../helpers/daemon';
import { rawRequest, v3Request, v1Request, KMS_VERSION, sdkError, coreCaller } from '../helpers/sdk';
test('debug', async () => {
  const d = await startTestDaemon();
  try {
    const rsa = d.certificates.find((c) => c.keySpec === 'RSA_2048')!;
    const ec = d.certificates.find((c) => c.keySpec === 'EC_P256')!;
    console.log((await rawRequest(d.endpoint, { path: '/?%E0%A4%A' })).body);
    for (const [cert, alg] of [[rsa, 'SM2DSA'], [ec, 'SM2DSA'], [rsa, 'ECDSA_SHA_256']] as const)
      console.log((await rawRequest(d.endpoint, v3Request(d, { action: 'CertificatePrivateKeySign', version: KMS_VERSION, query: { CertificateId: cert.id, Algorithm: alg, MessageType: 'RAW', Message: 'YQ==' } }))).body);
    for (const alg of ['SM3withSM2'])
      console.log((await rawRequest(d.endpoint, v1Request(d, { action: 'Sign', version: '2020-04-07', params: { CertIdentifier: rsa.id, SigningAlgorithm: alg, MessageType: 'RAW', Message: 'YQ==' } }))).body);
    console.log(JSON.stringify(await sdkError(() => coreCaller(d)('CertificatePrivateKeySign', { CertificateId: 'x', Algorithm: 'RSA_PKCS1_SHA_256', Message: 'YQ==', Format: 'XML' }))));
    console.log(d.logText().slice(0, 3000));
  } finally { await d.stop(); }
});
