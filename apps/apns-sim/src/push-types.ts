/**
 * Push types, the topic suffix each requires and the payload limit each allows
 * (docs/apns-protocol.md §A.4, §A.5). Kept inside the simulator on purpose: the simulator is the
 * stand-in for Apple, so it must not share rule tables with the client it is judging.
 */
export const pushTypeRules = {
  alert: { suffix: '', maxPayload: 4096 },
  background: { suffix: '', maxPayload: 4096 },
  voip: { suffix: '.voip', maxPayload: 5120 },
  complication: { suffix: '.complication', maxPayload: 4096 },
  fileprovider: { suffix: '.pushkit.fileprovider', maxPayload: 4096 },
  mdm: { suffix: '', maxPayload: 4096 },
  location: { suffix: '.location-query', maxPayload: 4096 },
  liveactivity: { suffix: '.push-type.liveactivity', maxPayload: 4096 },
  pushtotalk: { suffix: '.voip-ptt', maxPayload: 4096 },
  widgets: { suffix: '.push-type.widgets', maxPayload: 4096 },
  controls: { suffix: '.push-type.controls', maxPayload: 4096 },
} as const;

export type PushType = keyof typeof pushTypeRules;

export function isPushType(value: string): value is PushType {
  return Object.hasOwn(pushTypeRules, value);
}

// Longest first, so '.voip-ptt' is not mistaken for a bundle id ending in '-ptt' after '.voip'.
const knownSuffixes = [...new Set(Object.values(pushTypeRules).map((r) => r.suffix))]
  .filter((s) => s !== '')
  .sort((a, b) => b.length - a.length);

/** The bundle id a topic belongs to: the topic without any known push-type suffix. */
export function bundleIdOf(topic: string): string {
  for (const suffix of knownSuffixes) {
    if (topic.endsWith(suffix) && topic.length > suffix.length) return topic.slice(0, -suffix.length);
  }
  return topic;
}

/** The push-type suffix a topic carries ('' for a plain bundle id). */
export function suffixOf(topic: string): string {
  return topic.slice(bundleIdOf(topic).length);
}

/**
 * Whether `topic` is shaped right for `pushType`. mdm topics are the UID of an MDM
 * certificate, so any topic goes there.
 */
export function topicMatchesPushType(topic: string, pushType: PushType): boolean {
  if (pushType === 'mdm') return true;
  return suffixOf(topic) === pushTypeRules[pushType].suffix;
}

/**
 * Push types APNs takes over token connections only: `location` (§A.4) and `liveactivity`
 * (§A.4, §H.1). Apple does not document the reason a certificate connection gets for them; the
 * simulator answers BadTopic, what any topic outside a certificate gets, since Apple's
 * certificates never list these topics (README "Live Activities").
 */
export const tokenOnlyPushTypes: ReadonlySet<PushType> = new Set<PushType>(['location', 'liveactivity']);
