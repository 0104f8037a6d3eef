/**
 * The shape of the house (STYLE.md "The shape of the house", docs/decisions/0017-import-boundaries.md), checked on
 * every `npm run lint`: data flows request → api → ops → identities → token → crypto, with config, errors and
 * observability as the ground floor everyone stands on, the process (server, app, cluster, reload, net) wiring
 * the floors together, the operator CLI above it and src/main.ts, the process entry, on top. An import may go down
 * the flow, never up it (nothing imports src/main.ts).
 *
 * Each floor names the floors it may import; one rule per floor so the message says which floor was broken.
 */

/** Path patterns of each floor (under src/). */
const floor = {
  ground: '^src/(config|errors|observability)/',
  crypto: '^src/crypto/',
  token: '^src/token/',
  identities: '^src/identities/',
  ops: '^src/ops/',
  api: '^src/api/',
  process: '^src/(server\\.ts|app\\.ts|cluster/|reload/|net/|replay/)',
  cli: '^src/cli/',
  entry: '^src/main\\.ts$',
};

/** What each floor may import from src/ besides itself (third-party packages and node: builtins are checked below). */
/** The ground floor without errors/: the floors that speak their own language, not the cloud's. */
const groundWithoutCloudErrors = '^src/(config|observability)/';

/**
 * The vocabulary of the errors that rise from below the operations: the token's faults, the one file that sorts
 * CKR codes, and the planners' refusal. The API layer reads them to answer in the cloud's terms (decision 0022,
 * src/api/lowerFloorErrors.ts); it reaches nothing else of the token or crypto floors.
 */
const lowerFloorErrors = '^src/(token/(faults|ckr)|crypto/planError)\\.ts$';

const mayImport = {
  ground: [floor.ground],
  // crypto throws its own errors (EncodingError, PlanError), never a cloud code: errors/ is off limits to it.
  crypto: [groundWithoutCloudErrors],
  // token throws PKCS#11 errors and its own faults (faults.ts), never a cloud code: errors/ is off limits to it.
  token: [floor.crypto, groundWithoutCloudErrors],
  // identities speak the API's language: they name the parameter a bad value came from (decision 0022).
  identities: [floor.token, floor.crypto, floor.ground],
  ops: [floor.identities, floor.token, floor.crypto, floor.ground],
  api: [floor.ops, lowerFloorErrors, floor.ground],
  process: [floor.api, floor.ops, floor.identities, floor.token, floor.crypto, floor.ground],
  cli: [floor.process, floor.api, floor.ops, floor.identities, floor.token, floor.crypto, floor.ground],
  entry: [floor.cli, floor.process, floor.api, floor.ops, floor.identities, floor.token, floor.crypto, floor.ground],
};

const floorRules = Object.entries(mayImport).map(([name, allowed]) => ({
  name: `flow-${name}`,
  comment: `${name} may import only itself and ${allowed.length === 1 ? 'the ground floor' : 'the floors below it'}`,
  severity: 'error',
  from: { path: floor[name] },
  to: { path: '^src/', pathNot: [floor[name], ...allowed] },
}));

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    ...floorRules,
    {
      name: 'on-a-floor',
      comment: 'Every file under src/ lives on a floor of the house: add a new folder to `floor` above, in its place.',
      severity: 'error',
      from: { path: '^src/', pathNot: Object.values(floor) },
      to: {},
    },
    {
      name: 'no-circular',
      comment: 'A cycle makes two files one idea in two places: split out what both need.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'src-not-from-test',
      comment: 'Production code never reaches into test/ (helpers, fixtures, the bench).',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^test/' },
    },
    {
      name: 'pkcs11-in-token',
      comment:
        'Only the token floor talks PKCS#11 (the algorithm table in crypto/ names mechanism numbers; the operator ' +
        'CLI lists slots); ops and api reach a token through token/ and its one CKR translator.',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/token/', '^src/crypto/', '^src/cli/'] },
      to: { path: '(^|/)node_modules/pkcs11js/' },
    },
    {
      name: 'http-in-api',
      comment: 'Only the api floor and the process know HTTP frameworks; operations and below stay transport-free.',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/api/', floor.process] },
      to: { path: '(^|/)node_modules/(express|helmet)/' },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'An import that resolves to nothing is a typo or a missing dependency.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: 'no-dev-deps-in-src',
      comment: 'Production code may not depend on a devDependency (it is absent in a production install).',
      severity: 'error',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
    exclude: { path: '^(dist|coverage)/' },
  },
};
