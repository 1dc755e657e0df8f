/**
 * Internal: core/v1 Event recording with client-go style folding of repeats.
 *
 * The same (object, type, reason, message) seen again within {@link FOLD_WINDOW_MS}
 * bumps `count` and `lastTimestamp` on the existing Event instead of creating a new one.
 * @module
 */

import type { Clock } from "../../core/clock.ts";
import type { Logger } from "../../core/log.ts";
import { isStatus, type KubeApi, type KubeObject } from "./kube.ts";

/** What an Event says. `reason` is one CamelCase word; `message` is for humans. */
export interface EventSpec {
  type: "Normal" | "Warning";
  reason: string;
  message: string;
  /** What the controller did (`Apply`, `Delete`, …); optional. */
  action?: string;
}

const FOLD_WINDOW_MS = 10 * 60_000;
const MAX_CACHED = 4096;
const MAX_MESSAGE = 1024;

interface Folded {
  name: string;
  namespace: string;
  count: number;
  firstTimestamp: string;
  lastSeen: number;
}

/** Seconds-precision RFC 3339 (metav1.Time). */
function timeString(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

export class EventRecorder {
  #kube: Pick<KubeApi, "create" | "patch">;
  #component: string;
  #clock: Clock;
  #logger: Logger;
  #seen = new Map<string, Folded>();

  constructor(
    kube: Pick<KubeApi, "create" | "patch">,
    options: { component: string; clock: Clock; logger: Logger },
  ) {
    this.#kube = kube;
    this.#component = options.component;
    this.#clock = options.clock;
    this.#logger = options.logger;
  }

  async record(obj: KubeObject, event: EventSpec): Promise<void> {
    const meta = obj.metadata ?? {};
    const namespace = meta.namespace || "default";
    const message = event.message.length > MAX_MESSAGE
      ? event.message.slice(0, MAX_MESSAGE - 3) + "..."
      : event.message;
    const key = [obj.kind, namespace, meta.name, meta.uid, event.type, event.reason, message].join(
      "\u0000",
    );
    const now = this.#clock.now();
    const nowString = timeString(now);
    try {
      const prior = this.#seen.get(key);
      if (prior && now - prior.lastSeen < FOLD_WINDOW_MS) {
        prior.count += 1;
        prior.lastSeen = now;
        try {
          await this.#patchEvent(prior, nowString);
          return;
        } catch (err) {
          // The Event may have expired (TTL 1h by default): start a new one.
          if (!isStatus(err, 404)) throw err;
        }
      }
      const name = `${meta.name ?? "unknown"}.${now.toString(16)}${
        Math.floor(Math.random() * 0xffff).toString(16)
      }`;
      await this.#kube.create({
        apiVersion: "v1",
        kind: "Event",
        metadata: { name, namespace },
        involvedObject: {
          apiVersion: obj.apiVersion,
          kind: obj.kind,
          name: meta.name,
          namespace: meta.namespace,
          uid: meta.uid,
          resourceVersion: meta.resourceVersion,
        },
        type: event.type,
        reason: event.reason,
        message,
        ...(event.action ? { action: event.action } : {}),
        source: { component: this.#component },
        reportingComponent: this.#component,
        reportingInstance: "",
        firstTimestamp: nowString,
        lastTimestamp: nowString,
        count: 1,
      });
      if (this.#seen.size >= MAX_CACHED) this.#seen.clear();
      this.#seen.set(key, { name, namespace, count: 1, firstTimestamp: nowString, lastSeen: now });
    } catch (err) {
      this.#logger.warn("Failed to record Event", {
        namespace,
        name: meta.name,
        reason: event.reason,
        error: err,
      });
    }
  }

  async #patchEvent(f: Folded, nowString: string): Promise<void> {
    const ref = {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name: f.name, namespace: f.namespace },
    };
    await this.#kube.patch(ref, { count: f.count, lastTimestamp: nowString });
  }
}
