import { createPublicKey, type KeyObject } from 'node:crypto';
import { bundleIdOf } from './push-types.ts';

export type Environment = 'sandbox' | 'production';
export type EnvironmentScope = Environment | 'both';

/** A signing key registered through the control API (docs/apns-protocol.md §B.3). */
export interface ProviderKey {
  keyId: string;
  teamId: string;
  publicKey: KeyObject;
  /** Bundle ids a topic-specific key may push to; undefined for a team-scoped key. */
  topics: Set<string> | undefined;
  environment: EnvironmentScope;
  relatedKeyId: string | undefined;
}

export interface Device {
  token: string;
  /** Bundle id the token belongs to. */
  bundleId: string;
  environment: Environment;
  /** Set once unregistered: later sends get 410 with this timestamp (ms). */
  invalid: { reason: 'Unregistered' | 'ExpiredToken'; timestamp: number } | undefined;
}

export interface FeedbackTuple {
  token: string;
  bundleId: string;
  /** Milliseconds since the epoch; the legacy wire format carries seconds. */
  timestamp: number;
}

/** Keys, devices and the legacy feedback list: what Apple would know about a team's apps. */
export class Registry {
  readonly keys = new Map<string, ProviderKey>();
  readonly devices = new Map<string, Device>();
  feedback: FeedbackTuple[] = [];

  addKey(input: {
    keyId: string;
    teamId: string;
    publicKeyPem: string;
    topics?: string[] | undefined;
    environment?: EnvironmentScope | undefined;
    relatedKeyId?: string | undefined;
  }): ProviderKey {
    const publicKey = createPublicKey(input.publicKeyPem);
    if (publicKey.asymmetricKeyType !== 'ec' || publicKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      throw new Error('publicKeyPem must be an EC P-256 key');
    }
    const key: ProviderKey = {
      keyId: input.keyId,
      teamId: input.teamId,
      publicKey,
      topics: input.topics ? new Set(input.topics.map(bundleIdOf)) : undefined,
      environment: input.environment ?? 'both',
      relatedKeyId: input.relatedKeyId,
    };
    this.keys.set(key.keyId, key);
    return key;
  }

  /**
   * Revokes a key, as Apple does when a key is revoked in the developer account: from now on
   * every request signed with it, on new and already-authenticated connections alike, is
   * refused with 403 InvalidProviderToken. False when no such key was registered.
   */
  removeKey(keyId: string): boolean {
    return this.keys.delete(keyId);
  }

  addDevice(input: { token: string; topic: string; environment: Environment }): Device {
    const device: Device = {
      token: input.token.toLowerCase(),
      bundleId: bundleIdOf(input.topic),
      environment: input.environment,
      invalid: undefined,
    };
    this.devices.set(device.token, device);
    return device;
  }

  /** Marks a token invalid for its topic and puts it on the legacy feedback list. */
  unregister(input: {
    token: string;
    topic: string;
    timestamp: number;
    reason: 'Unregistered' | 'ExpiredToken';
    environment: Environment;
  }): Device {
    const token = input.token.toLowerCase();
    const device =
      this.devices.get(token) ??
      this.addDevice({ token, topic: input.topic, environment: input.environment });
    device.invalid = { reason: input.reason, timestamp: input.timestamp };
    this.feedback.push({ token, bundleId: bundleIdOf(input.topic), timestamp: input.timestamp });
    return device;
  }

  /** Takes the feedback tuples for the given bundle ids (all when undefined): read once, then gone. */
  takeFeedback(bundleIds: Set<string> | undefined): FeedbackTuple[] {
    const taken: FeedbackTuple[] = [];
    const kept: FeedbackTuple[] = [];
    for (const tuple of this.feedback) {
      if (!bundleIds || bundleIds.has(tuple.bundleId)) taken.push(tuple);
      else kept.push(tuple);
    }
    this.feedback = kept;
    return taken;
  }

  clear(): void {
    this.keys.clear();
    this.devices.clear();
    this.feedback = [];
  }
}
