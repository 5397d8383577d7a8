/**
 * Something the manager keeps current while this replica leads and waits for before it starts
 * the controllers: an Informer, or a set of them (e.g. the Secrets that Sites reference).
 */
export interface Cache {
  /** Runs until signal aborts. Never rejects. */
  run(signal: AbortSignal): Promise<void>;
  /** Resolves once the cache reflects the API server; rejects when signal aborts first. */
  waitForSync(signal: AbortSignal): Promise<void>;
  hasSynced(): boolean;
}
