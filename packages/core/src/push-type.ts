/** APNs push types and the topic each needs (docs/apns-protocol.md §A.4). */
export const pushTypes = [
  'alert',
  'background',
  'voip',
  'complication',
  'fileprovider',
  'mdm',
  'location',
  'liveactivity',
  'pushtotalk',
  'widgets',
  'controls',
] as const;

export type PushType = (typeof pushTypes)[number];

const topicSuffix: Record<PushType, string> = {
  alert: '',
  background: '',
  voip: '.voip',
  complication: '.complication',
  fileprovider: '.pushkit.fileprovider',
  mdm: '',
  location: '.location-query',
  liveactivity: '.push-type.liveactivity',
  pushtotalk: '.voip-ptt',
  widgets: '.push-type.widgets',
  controls: '.push-type.controls',
};

export function topicFor(bundleId: string, pushType: PushType): string {
  return bundleId + topicSuffix[pushType];
}

/** 4096 bytes for every push type except VoIP, which gets 5120 (docs/apns-protocol.md §A.5). */
export function payloadLimitFor(pushType: PushType): number {
  return pushType === 'voip' ? 5120 : 4096;
}
