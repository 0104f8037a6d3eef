/** Three projects: unit (no token), integration (a throwaway SoftHSM2 token per suite), e2e (the daemon over HTTP). */
const tsJest = ['ts-jest', { diagnostics: false }];
const common = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': tsJest },
  moduleFileExtensions: ['ts', 'js', 'json'],
};
module.exports = {
  // Global on purpose: jest-circus reads testTimeout only at the top level (a project's own is ignored).
  testTimeout: 60000,
  globalSetup: '<rootDir>/test/helpers/globalSetup.ts',
  globalTeardown: '<rootDir>/test/helpers/globalTeardown.ts',
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.int.test.ts'],
    },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/e2e/**/*.e2e.test.ts'],
      // Records the message contents clients send, for the leak check in globalTeardown (test/helpers/leakCheck.ts).
      setupFiles: ['<rootDir>/test/helpers/recordContents.ts'],
    },
  ],
};
