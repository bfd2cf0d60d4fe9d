import { parseProviderToken, verifyEs256 } from './jwt.ts';
import { bundleIdOf } from './push-types.ts';
import { type Rejection, reject } from './reasons.ts';
import type { Environment, ProviderKey, Registry } from './registry.ts';

/** APNs rejects provider tokens whose iat is older than this (docs/apns-protocol.md §B.2). */
export const TOKEN_MAX_AGE_MS = 60 * 60 * 1000;
/** A connection may take a new provider token at most this often (docs/apns-protocol.md §B.2). */
export const TOKEN_UPDATE_MIN_INTERVAL_MS = 20 * 60 * 1000;

/** What a connection remembers about token auth: the team binding and the token in use. */
export interface TokenConnectionState {
  /** Set by the first authenticated request: APNs binds one team (and key) per connection. */
  boundTeamId: string | undefined;
  boundKey: ProviderKey | undefined;
  currentJwt: string | undefined;
  currentKey: ProviderKey | undefined;
  currentIat: number;
  currentSince: number;
}

export function newTokenConnectionState(): TokenConnectionState {
  return {
    boundTeamId: undefined,
    boundKey: undefined,
    currentJwt: undefined,
    currentKey: undefined,
    currentIat: 0,
    currentSince: 0,
  };
}

function related(a: ProviderKey, b: ProviderKey): boolean {
  return a.keyId === b.keyId || a.relatedKeyId === b.keyId || b.relatedKeyId === a.keyId;
}

/**
 * Checks the `authorization` header of a request on a token connection, in the order
 * MissingProviderToken → InvalidProviderToken → ExpiredProviderToken → key environment →
 * team/key binding → topic permission → TooManyProviderTokenUpdates. Mutates `state` only
 * when the request is authenticated.
 */
export function authenticateToken(
  authorization: string | undefined,
  topic: string,
  state: TokenConnectionState,
  registry: Registry,
  environment: Environment,
  now: number,
  tokenUpdateMinIntervalMs = TOKEN_UPDATE_MIN_INTERVAL_MS,
  /** The answer when a topic key does not cover the topic; broadcast APIs say TopicMismatch. */
  topicDenied: Rejection = reject('InvalidProviderToken'),
): Rejection | undefined {
  if (!authorization || !/^bearer /i.test(authorization)) return reject('MissingProviderToken');
  const jwt = authorization.slice(7).trim();
  if (jwt === '') return reject('MissingProviderToken');

  let key: ProviderKey;
  let iat: number;
  if (
    jwt === state.currentJwt &&
    state.currentKey &&
    registry.keys.get(state.currentKey.keyId) === state.currentKey
  ) {
    // Verified already on this connection; only its age can change.
    key = state.currentKey;
    iat = state.currentIat;
  } else {
    const parsed = parseProviderToken(jwt);
    if (!parsed.ok) return reject('InvalidProviderToken');
    const found = registry.keys.get(parsed.claims.kid);
    if (!found || found.teamId !== parsed.claims.iss) return reject('InvalidProviderToken');
    if (!verifyEs256(parsed.signingInput, parsed.signature, found.publicKey))
      return reject('InvalidProviderToken');
    key = found;
    iat = parsed.claims.iat;
  }

  if (now - iat * 1000 > TOKEN_MAX_AGE_MS) return reject('ExpiredProviderToken');
  if (key.environment !== 'both' && key.environment !== environment)
    return reject('BadEnvironmentKeyIdInToken');

  if (state.boundTeamId !== undefined && state.boundTeamId !== key.teamId)
    return reject('InvalidProviderToken');
  if (state.boundKey && !related(state.boundKey, key)) {
    // Team keys may follow team keys; a topic key only shares a connection with its related key.
    const bothTeamKeys = state.boundKey.topics === undefined && key.topics === undefined;
    if (!bothTeamKeys) return reject('UnrelatedKeyIdInToken');
  }
  if (key.topics && !key.topics.has(bundleIdOf(topic))) return topicDenied;

  if (jwt !== state.currentJwt) {
    if (state.currentJwt !== undefined && now - state.currentSince < tokenUpdateMinIntervalMs) {
      return reject('TooManyProviderTokenUpdates');
    }
    state.currentJwt = jwt;
    state.currentKey = key;
    state.currentIat = iat;
    state.currentSince = now;
  }
  state.boundTeamId ??= key.teamId;
  state.boundKey ??= key;
  return undefined;
}
