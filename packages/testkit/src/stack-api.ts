import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { NotificationStatus } from '@pushfleet/core';
import type { Stack } from './stack.ts';
import { waitFor } from './wait-for.ts';

/** Thin HTTP helpers over a test stack's API, for integration tests. */
export function stackApi(stack: Stack, app = stack.appId) {
  const base = `${stack.apiUrl}/v1/apps/${app}/notifications`;
  return {
    /** Sends with a unique apns-id unless one is given, so the simulator can spot duplicates. */
    async send(tokens: string[], notification: Record<string, unknown> = {}): Promise<string> {
      const res = await fetch(base, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          tokens,
          notification: { alert: 'test', apnsId: randomUUID(), ...notification },
        }),
      });
      const text = await res.text();
      assert.equal(res.status, 202, text);
      return (JSON.parse(text) as { id: string }).id;
    },
    async status(id: string): Promise<NotificationStatus> {
      const res = await fetch(`${base}/${id}`);
      assert.equal(res.status, 200);
      return (await res.json()) as NotificationStatus;
    },
    async waitDone(id: string, timeoutMs = 30_000): Promise<NotificationStatus> {
      return waitFor(
        `notification ${id} done`,
        async () => {
          const res = await fetch(`${base}/${id}`);
          const status = (await res.json()) as NotificationStatus;
          return status.state === 'done' ? status : undefined;
        },
        { timeoutMs, intervalMs: 50 },
      );
    },
  };
}
