import type { Logger } from "../log/logger.js";
import type { Clock } from "../util/clock.js";
import { rfc3339 } from "../util/clock.js";
import { isNotFound } from "../kube/errors.js";
import type { KubeStore } from "../kube/store.js";
import type { KubeObject, ResourceType } from "../kube/types.js";

export interface CoreEvent extends KubeObject {
  involvedObject: { apiVersion?: string; kind?: string; name: string; namespace?: string; uid?: string; resourceVersion?: string };
  reason: string;
  message: string;
  type: "Normal" | "Warning";
  source?: { component: string };
  reportingComponent?: string;
  reportingInstance?: string;
  firstTimestamp?: string;
  lastTimestamp?: string;
  count?: number;
  action?: string;
}

export const EventType: ResourceType<CoreEvent> = { group: "", version: "v1", kind: "Event", plural: "events", namespaced: true };

/** Records Kubernetes Events about our objects. Fire-and-forget: never throws, never blocks a reconcile. */
export interface EventRecorder {
  normal(obj: KubeObject, reason: string, message: string): void;
  warning(obj: KubeObject, reason: string, message: string): void;
}

export interface EventRecorderOptions {
  readonly kube: KubeStore;
  readonly clock: Clock;
  readonly log: Logger;
  readonly component: string;
  readonly instance: string;
  /** Repeats of the same event within this window bump its count instead of creating a new Event. */
  readonly aggregateWindowMs?: number;
}

interface Seen {
  name: string;
  namespace: string;
  count: number;
  first: string;
  lastAt: number;
}

const MAX_TRACKED = 4096;

/**
 * Creates core/v1 Events, as client-go's recorder does: the first occurrence creates an Event,
 * repeats within the window patch its count and lastTimestamp. Writes are serialised on a small
 * internal chain so bursts cannot flood the API server; failures are logged at debug and dropped
 * (an Event is a courtesy, not state). Messages are composed by our code and never carry secrets.
 */
export class KubeEventRecorder implements EventRecorder {
  private readonly seen = new Map<string, Seen>();
  private chain: Promise<void> = Promise.resolve();
  private pending = 0;

  constructor(private readonly o: EventRecorderOptions) {}

  normal(obj: KubeObject, reason: string, message: string): void {
    this.record(obj, "Normal", reason, message);
  }

  warning(obj: KubeObject, reason: string, message: string): void {
    this.record(obj, "Warning", reason, message);
  }

  /** Resolves when every queued write has been attempted (for tests and shutdown). */
  flush(): Promise<void> {
    return this.chain;
  }

  private record(obj: KubeObject, type: CoreEvent["type"], reason: string, message: string): void {
    if (this.pending > 1000) return; // the API server is not keeping up; drop rather than grow without bound
    this.pending++;
    this.chain = this.chain
      .then(() => this.write(obj, type, reason, message))
      .catch((err: unknown) => this.o.log.debug({ err, reason }, "Could not record Event"))
      .finally(() => {
        this.pending--;
      });
  }

  private async write(obj: KubeObject, type: CoreEvent["type"], reason: string, message: string): Promise<void> {
    const { kube, clock, component, instance } = this.o;
    const window = this.o.aggregateWindowMs ?? 10 * 60_000;
    const key = `${obj.metadata.uid ?? obj.metadata.name}\u0000${type}\u0000${reason}\u0000${message}`;
    const now = clock.now();
    const ts = rfc3339(now);
    const prior = this.seen.get(key);
    if (prior && now - prior.lastAt < window) {
      prior.count++;
      prior.lastAt = now;
      this.touch(key, prior);
      try {
        await kube.mergePatch(EventType, { namespace: prior.namespace, name: prior.name }, { count: prior.count, lastTimestamp: ts });
        return;
      } catch (err) {
        if (!isNotFound(err)) throw err;
        // The Event expired meanwhile: create it afresh below.
      }
    }
    const namespace = obj.metadata.namespace ?? "default";
    const name = `${obj.metadata.name}.${now.toString(16)}${Math.floor(Math.random() * 0xffff).toString(16)}`;
    const event: CoreEvent = {
      metadata: { name, namespace },
      involvedObject: {
        apiVersion: obj.apiVersion,
        kind: obj.kind,
        name: obj.metadata.name,
        namespace: obj.metadata.namespace,
        uid: obj.metadata.uid,
        resourceVersion: obj.metadata.resourceVersion,
      },
      reason,
      message,
      type,
      source: { component },
      reportingComponent: component,
      reportingInstance: instance,
      firstTimestamp: ts,
      lastTimestamp: ts,
      count: 1,
    };
    await kube.create(EventType, event);
    this.touch(key, { name, namespace, count: 1, first: ts, lastAt: now });
  }

  private touch(key: string, s: Seen): void {
    this.seen.delete(key);
    this.seen.set(key, s);
    if (this.seen.size > MAX_TRACKED) {
      const oldest = this.seen.keys().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
  }
}
