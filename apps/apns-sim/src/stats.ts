/** Counters behind GET /stats. */
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

  reject(reason: string): void {
    this.rejected[reason] = (this.rejected[reason] ?? 0) + 1;
  }

  clear(): void {
    this.requests = 0;
    this.accepted = 0;
    this.rejected = {};
    // Connections that are open stay counted as open; the running total restarts.
    this.connections = 0;
    this.faultsFired = 0;
    this.goaways = 0;
    this.resets = 0;
    this.legacyNotifications = 0;
    this.legacyErrors = 0;
    this.feedbackReads = 0;
  }
}
