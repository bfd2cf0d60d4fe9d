import type { AppConfig } from '@pushfleet/config';
import {
  type Environment,
  environments,
  isValidDeviceToken,
  normalizeDeviceToken,
  notificationSchema,
  type PreparedNotification,
  PushfleetError,
  payloadBytes,
  payloadLimitFor,
  prepareNotification,
  topicFor,
} from '@pushfleet/core';
import { z } from 'zod';

const sendRequestSchema = z
  .object({
    tokens: z.array(z.unknown()),
    notification: notificationSchema,
    environment: z.enum(environments).optional(),
  })
  .strict();

export interface ValidSendRequest {
  environment: Environment;
  tokens: string[];
  prepared: PreparedNotification;
}

function fieldOf(path: PropertyKey[]): string {
  return path.map(String).join('.');
}

/**
 * Validates a send request completely before anything touches Redis, so a bad request leaves
 * no trace. Duplicate tokens collapse to one: one request never notifies a device twice.
 */
export function validateSendRequest(body: unknown, app: AppConfig, maxTokens: number): ValidSendRequest {
  const parsed = sendRequestSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new PushfleetError('PF_ERR_VALIDATION', issue.message, { field: fieldOf(issue.path) });
  }
  const { tokens: rawTokens, notification } = parsed.data;
  if (rawTokens.length === 0) throw new PushfleetError('PF_ERR_EMPTY_TOKENS', undefined, { field: 'tokens' });
  if (rawTokens.length > maxTokens) {
    throw new PushfleetError('PF_ERR_TOO_MANY_TOKENS', `at most ${maxTokens} tokens per request`, {
      field: 'tokens',
    });
  }
  const unique = new Set<string>();
  rawTokens.forEach((token, i) => {
    if (!isValidDeviceToken(token))
      throw new PushfleetError('PF_ERR_BAD_DEVICE_TOKEN', undefined, { field: `tokens.${i}` });
    unique.add(normalizeDeviceToken(token));
  });

  const environment = parsed.data.environment ?? app.environments[0]!;
  if (!app.environments.includes(environment)) {
    throw new PushfleetError('PF_ERR_ENVIRONMENT_NOT_ENABLED', undefined, { field: 'environment' });
  }
  const prepared = prepareNotification(notification, topicFor(app.bundleId, notification.pushType));
  const limit = payloadLimitFor(notification.pushType);
  if (payloadBytes(prepared) > limit) {
    throw new PushfleetError(
      'PF_ERR_PAYLOAD_TOO_LARGE',
      `payload is ${payloadBytes(prepared)} bytes; the ${notification.pushType} limit is ${limit}`,
      { field: 'notification' },
    );
  }
  return { environment, tokens: [...unique], prepared };
}
