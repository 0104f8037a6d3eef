/**
 * The token matrix (scripts/token-matrix.sh): one run per PKCS#11 implementation, with the environment its set-up
 * script wrote (scripts/tokens/<impl>.sh). No globalSetup: the module's environment (SOFTHSM2_CONF,
 * P11_KIT_SERVER_ADDRESS, TPM2_PKCS11_TCTI...) is the script's, not the unit/integration/e2e run's.
 */
module.exports = {
  rootDir: '../..',
  testTimeout: 180000,
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  testMatch: ['<rootDir>/test/matrix/**/*.matrix.test.ts'],
};
