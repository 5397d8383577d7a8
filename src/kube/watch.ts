import { Watch } from "@kubernetes/client-node";
import type { KubeConfig } from "@kubernetes/client-node";

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";

/** Streams watch events for a collection path. */
export interface Watcher {
  /**
   * Opens a watch and calls onEvent for each event. Resolves when the server ends the stream
   * (e.g. after timeoutSeconds), rejects on a transport or HTTP error, and rejects promptly once
   * `signal` aborts. onEvent must not throw.
   */
  watch(
    path: string,
    query: Record<string, string | number | boolean>,
    onEvent: (type: WatchEventType, obj: unknown) => void,
    signal: AbortSignal,
  ): Promise<void>;
}

/**
 * How long a watch may stay silent before it counts as dead. client-node 2.x aborts a watch after
 * 30 s without data (its private requestTimeoutMs), which turns every quiet watch into an error and
 * a relist every 30 s. Our informers ask the server to end watches after at most 600 s
 * (timeoutSeconds) with bookmarks in between, so the client-side limit sits just above that.
 */
export const WATCH_INACTIVITY_MS = 660_000;

/** Watcher over client-node's Watch (which parses the stream and applies kubeconfig auth/TLS). */
export class ClientNodeWatcher implements Watcher {
  private readonly w: Watch;
  constructor(kc: KubeConfig) {
    this.w = new Watch(kc);
    (this.w as unknown as { requestTimeoutMs: number }).requestTimeoutMs = WATCH_INACTIVITY_MS;
  }

  watch(
    path: string,
    query: Record<string, string | number | boolean>,
    onEvent: (type: WatchEventType, obj: unknown) => void,
    signal: AbortSignal,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let controller: AbortController | undefined;
      let settled = false;
      const settle = (err?: unknown): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener("abort", onAbort);
        controller?.abort();
        if (signal.aborted) reject(signal.reason instanceof Error ? signal.reason : new Error("watch aborted"));
        else if (err) reject(err instanceof Error ? err : new Error(JSON.stringify(err)));
        else resolve();
      };
      const onAbort = (): void => settle();
      if (signal.aborted) {
        settle();
        return;
      }
      signal.addEventListener("abort", onAbort, { once: true });
      this.w
        .watch(path, query, (type: string, obj: unknown) => onEvent(type as WatchEventType, obj), (err: unknown) => settle(err ?? undefined))
        .then((c) => {
          controller = c;
          if (settled) c.abort();
        })
        .catch((err: unknown) => settle(err));
    });
  }
}
