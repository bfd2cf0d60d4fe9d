/** Every store key lives under the deployment's prefix, beside (not inside) BullMQ's keys. */
export const storeKeys = {
  notification: (prefix: string, id: string) => `${prefix}:notification:${id}`,
  notificationApplied: (prefix: string, id: string) => `${prefix}:notification:${id}:applied`,
  feedbackStream: (prefix: string) => `${prefix}:feedback`,
};

/** Status records outlive their jobs long enough for producers to read the result. */
export const notificationTtlSeconds = 7 * 24 * 3600;
