/**
 * Every error the daemon can answer with: cloud code, HTTP status and the message the cloud sends.
 * This table is data; `test/unit/errors/catalogue.test.ts` keeps it identical to `docs/errors.md`.
 * Sources: ../shared/docs/alibaba-protocol.md §7 and §8.6 (PopGw, KMS and CAS metadata).
 */
export const ERROR_CATALOGUE = {
  // Gateway: request shape and authentication (§7).
  IncompleteSignature: { status: 400, message: 'The request signature does not conform to Aliyun standards.' },
  SignatureDoesNotMatch: { status: 400, message: 'Specified signature is not matched with our calculation.' },
  'InvalidTimeStamp.Format': {
    status: 400,
    message: 'Specified time stamp or date value is not well formatted.',
  },
  'InvalidTimeStamp.Expired': { status: 400, message: 'Specified time stamp or date value is expired.' },
  SignatureNonceUsed: { status: 400, message: 'Specified signature nonce was used already.' },
  InvalidSignatureMethod: { status: 400, message: 'Specified signature method is not supported.' },
  'InvalidSecurityToken.Malformed': {
    status: 400,
    message: 'STS security tokens are not supported by this service; sign with a permanent AccessKey.',
  },
  'InvalidAccessKeyId.NotFound': { status: 404, message: 'Specified access key is not found.' },
  'InvalidAccessKeyId.Inactive': { status: 400, message: 'Specified access key is disabled.' },
  'InvalidAction.NotFound': { status: 404, message: 'Specified api is not found, please check your url and method.' },
  InvalidVersion: { status: 400, message: 'Specified parameter Version is not valid.' },
  'Forbidden.RAM': {
    status: 403,
    message: "User not authorized to operate on the specified resource, or this API doesn't support RAM.",
  },
  'Throttling.User': { status: 400, message: 'Request was denied due to user flow control.' },
  // Parameters.
  MissingParameter: { status: 400, message: 'A required parameter is missing.' },
  InvalidParameter: { status: 400, message: 'The specified parameter is not valid.' },
  // Resources.
  'Certificate.NotFound': { status: 404, message: 'The specified certificate is not found.' },
  NotFound: { status: 400, message: 'The resource not found. Check the input parameters.' },
  'Rejected.Disabled': { status: 409, message: 'The request was rejected because the certificate state is Disabled.' },
  'Rejected.Revoked': { status: 409, message: 'The request was rejected because the certificate is revoked.' },
  'Rejected.Pending': {
    status: 409,
    message: 'The request was rejected because the certificate is pending: upload a certificate first.',
  },
  // KMS keys (alibaba-kms-keys.md §5.2: M24 metadata; messages of the two NotFound codes as the cloud sends them).
  'Forbidden.KeyNotFound': { status: 404, message: 'The specified Key is not found.' },
  'Forbidden.AliasNotFound': { status: 404, message: 'The specified Alias is not found.' },
  'Rejected.PendingDeletion': {
    status: 409,
    message: 'The request was rejected because the key state is PendingDeletion.',
  },
  'Rejected.AlreadyExists': { status: 409, message: 'The specified resource already exists.' },
  'Certificate.AlreadyExists': { status: 409, message: 'A certificate with this identifier already exists.' },
  QuotaExceeded: { status: 400, message: 'The number of certificates this AccessKey may create is used up.' },
  UnsupportedOperation: { status: 400, message: 'This operation is not supported by the token behind this warehouse.' },
  // A KMS DryRun whose checks passed (docs/decisions/0023: the status and message of Alibaba's other products).
  DryRunOperation: { status: 400, message: 'Request validation has been passed with DryRun flag set.' },
  // Service.
  InternalError: {
    status: 500,
    message: 'The request processing has failed due to some unknown error, exception or failure.',
  },
  ServiceUnavailable: { status: 503, message: 'The request has failed due to a temporary failure of the server.' },
  // KMS's own names for the four generic codes above (src/api/productErrors.ts chooses them for KMS requests).
  'Rejected.Throttling': { status: 400, message: 'QPS Limit Exceeded' },
  'Rejected.UnsupportedOperation': { status: 400, message: 'Unsupported operation.' },
  InternalFailure: { status: 500, message: 'Internal Failure' },
  ServiceUnavailableTemporary: {
    status: 503,
    message: 'The service is temporarily unavailable. Please try again later.',
  },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;
