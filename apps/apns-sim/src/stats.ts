/** Requests, answers and rejections of one API (broadcasts, channel management). */
export class ApiCounters {
  requests = 0;
  accepted = 0;
  rejected: Record<string, number> = {};

  reject(reason: string): void {
    this.rejected[reason] = (this.rejected[reason] ?? 0) + 1;
  }

  clear(): void {
    this.requests = 0;
    this.accepted = 0;
    this.rejected = {};
  }
}

/**
 * Counters behind GET /stats. `requests`, `accepted` and `rejected` count device pushes (and
 * every stream in fast mode); broadcasts and channel management have their own counters.
 */
export class Stats {
  requests = 0;
  accepted = 0;
  rejected: Record<string, number> = {};
  connections = 0;
  openConnections = 0;
  faultsFired = 0;
  goaways = 0;
  resets = 0;
  legacyNotifications = 0;
  legacyErrors = 0;
  feedbackReads = 0;
  /** Accepted device pushes per signing key id (token auth): shows when a rotated key took over. */
  acceptedByKey: Record<string, number> = {};
  readonly broadcasts = new ApiCounters();
  readonly channels = new ApiCounters();
  /** Connections to the channel-management port (not counted in `connections`). */
  channelConnections = 0;
  openChannelConnections = 0;

  reject(reason: string): void {
    this.rejected[reason] = (this.rejected[reason] ?? 0) + 1;
  }

  clear(): void {
    this.requests = 0;
    this.accepted = 0;
    this.rejected = {};
    // Connections that are open stay counted as open; the running total restarts.
    this.connections = 0;
    this.channelConnections = 0;
    this.faultsFired = 0;
    this.goaways = 0;
    this.resets = 0;
    this.legacyNotifications = 0;
    this.legacyErrors = 0;
    this.feedbackReads = 0;
    this.acceptedByKey = {};
    this.broadcasts.clear();
    this.channels.clear();
  }
}
