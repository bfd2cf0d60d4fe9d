/**
 * The one catalogue of stable error codes. Every 4xx/5xx body the API sends is
 * `{ code, message, field? }` with a code from here; tests assert codes are unique and documented.
 */
export const errorCatalogue = {
  PF_ERR_INVALID_JSON: { status: 400, message: 'Request body is not valid JSON' },
  PF_ERR_VALIDATION: { status: 400, message: 'A field failed validation' },
  PF_ERR_EMPTY_TOKENS: { status: 400, message: 'At least one device token is required' },
  PF_ERR_TOO_MANY_TOKENS: { status: 400, message: 'Too many device tokens in one request' },
  PF_ERR_BAD_DEVICE_TOKEN: { status: 400, message: 'Device token must be an even-length hex string' },
  PF_ERR_PAYLOAD_TOO_LARGE: { status: 400, message: 'Serialized APNs payload exceeds the push type limit' },
  PF_ERR_ENVIRONMENT_NOT_ENABLED: { status: 400, message: 'The app is not configured for this environment' },
  PF_ERR_BODY_TOO_LARGE: { status: 413, message: 'Request body exceeds the size limit' },
  PF_ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Content-Type must be application/json' },
  PF_ERR_UNKNOWN_APP: { status: 404, message: 'No app with this id is configured' },
  PF_ERR_NOT_FOUND: { status: 404, message: 'No such resource' },
  PF_ERR_REDIS_UNAVAILABLE: { status: 503, message: 'The queue store is unavailable; nothing was accepted' },
  PF_ERR_INTERNAL: { status: 500, message: 'Internal error' },
  PF_ERR_CONFIG: { status: 500, message: 'Invalid configuration' },
  PF_ERR_UNAUTHORIZED: { status: 401, message: 'A valid API key is required (Authorization: Bearer <key>)' },
  PF_ERR_FORBIDDEN: { status: 403, message: 'The API key is not allowed to do this for this app' },
  PF_ERR_RATE_LIMITED: { status: 429, message: 'Too many requests for this API key; retry later' },
  PF_ERR_IDEMPOTENCY_IN_PROGRESS: {
    status: 409,
    message: 'A request with this Idempotency-Key is still in progress; retry later',
  },
  PF_ERR_IDEMPOTENCY_MISMATCH: {
    status: 422,
    message: 'This Idempotency-Key was used with a different request',
  },
  PF_ERR_EMPTY_AUDIENCE: { status: 400, message: 'The campaign audience is empty' },
  PF_ERR_CAMPAIGN_FINISHED: { status: 409, message: 'The campaign has already finished' },
  PF_ERR_HEADERS_TOO_LARGE: { status: 431, message: 'The request headers are too large' },
  PF_ERR_BAD_REQUEST: { status: 400, message: 'The request is not valid HTTP' },
  PF_ERR_TOKEN_AUTH_REQUIRED: {
    status: 400,
    message: 'This push type needs token (.p8) credentials; the app uses a certificate',
  },
  PF_ERR_CHANNEL_EXISTS: { status: 409, message: 'A channel with this name already exists for the app' },
  PF_ERR_CHANNEL_LIMIT: {
    status: 409,
    message: 'APNs refused to create another channel: the app has 10,000 in this environment',
  },
  PF_ERR_APNS_REJECTED: { status: 502, message: 'APNs refused the request; the message names its reason' },
  PF_ERR_APNS_UNAVAILABLE: { status: 503, message: 'APNs could not be reached or asked to retry later' },
  PF_ERR_BAD_CREDENTIALS: {
    status: 400,
    message: 'The credentials cannot be used; the message names the problem and field the part at fault',
  },
  PF_ERR_APP_READ_ONLY: {
    status: 409,
    message: 'The app is declared in the config file; it can only be changed there',
  },
  PF_ERR_APP_HAS_WORK: {
    status: 409,
    message: "The app's queue still holds work; disable the app and delete it once the queue is empty",
  },
  PF_ERR_APP_DISABLED: { status: 409, message: 'The app is disabled; it takes no new work' },
  PF_ERR_ENCRYPTION_KEY_MISSING: {
    status: 500,
    message: 'Credentials are only stored encrypted: this deployment has no appRegistry.keyEncryptionKey',
  },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof errorCatalogue;

/** An error with a stable code, an HTTP status and optionally the offending field path. */
export class PushfleetError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly field: string | undefined;

  constructor(code: ErrorCode, message?: string, options?: { field?: string; cause?: unknown }) {
    super(message ?? errorCatalogue[code].message, { cause: options?.cause });
    this.name = 'PushfleetError';
    this.code = code;
    this.status = errorCatalogue[code].status;
    this.field = options?.field;
  }

  toBody(): { code: ErrorCode; message: string; field?: string } {
    return this.field === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, field: this.field };
  }
}
