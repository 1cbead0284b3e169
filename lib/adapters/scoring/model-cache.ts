// Serves the production version of each model name from memory and swaps in a newly promoted one
// without making any request wait for it.
//
// A request reads the slot of the current version and holds a lease on it. At most every
// `refreshIntervalMs`, a request also starts (and does not await) a background check of the
// production pointer; a new version is fetched, verified, checked against the engine, loaded and
// warmed up by the runtime — and only then becomes current, in one assignment. A version that
// fails any of that is reported and never becomes current; the previous one keeps serving and the
// next check tries again. A replaced version is released once its last lease is returned.
//
// No timers: checks ride on requests. On Lambda the environment is frozen between invocations, so
// a timer would fire at arbitrary thaws anyway; a request-driven check starts exactly when there
// is traffic to serve and leaves an idle function alone.
import { FathomError, ResourceError } from '../../core/errors';
import type { Manifest, ModelName, ModelVersion } from '../../core/models/manifest';
import type { LoadedModel, RegistryReader } from '../../core/models/ports';
import { ModelIncompatibleError, ModelNotFoundError, ModelUnavailableError, TierNotDeployedError } from '../../core/scoring/errors';
import type { ModelRouter } from '../../core/scoring/router';
import type { ServedModel } from '../../core/scoring/scorer';

/** A model held for the duration of one request; `release` exactly once when done (extra calls are ignored). */
export interface ModelLease extends ServedModel {
  release(): void;
}

export type ModelCacheEvent =
  | { readonly type: 'loaded'; readonly name: ModelName; readonly version: ModelVersion; readonly cold: boolean; readonly ms: number }
  | { readonly type: 'swapped'; readonly name: ModelName; readonly from: ModelVersion; readonly to: ModelVersion }
  | { readonly type: 'load_failed'; readonly name: ModelName; readonly version: ModelVersion | undefined; readonly cold: boolean; readonly error: Error }
  | { readonly type: 'check_failed'; readonly name: ModelName; readonly error: Error }
  | { readonly type: 'no_production'; readonly name: ModelName; readonly serving: ModelVersion }
  | { readonly type: 'released'; readonly name: ModelName; readonly version: ModelVersion }
  | { readonly type: 'release_failed'; readonly name: ModelName; readonly version: ModelVersion; readonly error: Error };

export interface ModelCacheOptions {
  readonly registry: RegistryReader;
  /** Picks the runtime of a manifest's tier; an undeployed tier is never loaded. */
  readonly router: ModelRouter;
  /** Throws for a manifest this deployment must not serve (e.g. `assertServable` against the engine). */
  readonly accept?: (manifest: Manifest) => void;
  /** Least time between two checks of a name's production pointer. Default 30,000 ms. */
  readonly refreshIntervalMs?: number;
  /**
   * After a cold load fails, requests for that name fail fast with the same error for this long
   * instead of each fetching and verifying the package again. Default 5,000 ms.
   */
  readonly coldRetryMs?: number;
  readonly now?: () => number;
  /** Loads, swaps and failures, for logs and metrics. Must not throw. */
  readonly onEvent?: (event: ModelCacheEvent) => void;
}

const MAX_FAILED_NAMES = 256;

class Slot {
  inFlight = 0;
  retired = false;
  released = false;
  constructor(
    readonly manifest: Manifest,
    readonly model: LoadedModel,
    /** Releases the model; called once, when the slot is retired and its last lease returned. */
    readonly free: () => void,
  ) {}
}

/**
 * One request's hold on a slot. A class rather than an object literal with a release closure: one
 * is made per request, and a method on the prototype allocates nothing per lease.
 */
class Lease implements ModelLease {
  readonly manifest: Manifest;
  readonly model: LoadedModel;
  private returned = false;

  constructor(private readonly slot: Slot) {
    this.manifest = slot.manifest;
    this.model = slot.model;
  }

  release(): void {
    if (this.returned) return;
    this.returned = true;
    const slot = this.slot;
    slot.inFlight--;
    if (slot.retired && slot.inFlight === 0) slot.free();
  }
}

interface Entry {
  current: Slot | undefined;
  /** When the last check of the production pointer started (the cold load counts as one). */
  checkedAt: number;
  /** The background check in progress; it never rejects. */
  checking: Promise<void> | undefined;
  cold: Promise<void> | undefined;
  coldFailure: { readonly at: number; readonly error: Error } | undefined;
}

export class ModelCache {
  private readonly entries = new Map<ModelName, Entry>();
  private readonly pending = new Set<Promise<unknown>>();
  private readonly refreshMs: number;
  private readonly coldRetryMs: number;
  private readonly now: () => number;
  private closed = false;

  constructor(private readonly options: ModelCacheOptions) {
    this.refreshMs = options.refreshIntervalMs ?? 30_000;
    this.coldRetryMs = options.coldRetryMs ?? 5_000;
    this.now = options.now ?? Date.now;
  }

  /**
   * The current version of `name`, leased. Waits only when nothing of `name` is loaded yet (the
   * cold load, shared by every request that arrives meanwhile).
   * @throws ModelNotFoundError, TierNotDeployedError, ModelIncompatibleError, ModelUnavailableError
   *   or a retryable ResourceError when the cold load fails.
   */
  async acquire(name: ModelName): Promise<ModelLease> {
    const loaded = this.leaseLoaded(name);
    if (loaded) return loaded;
    const entry = this.entry(name);
    await this.coldLoad(name, entry);
    // Read `current` again after the wait: it is the newest loaded version, and leasing it in the
    // same synchronous step means no swap can release it in between.
    return this.lease(entry.current!);
  }

  /**
   * `acquire` on a warm instance, without the promise: the current version of `name`, leased, or
   * undefined when nothing of `name` is loaded yet (`acquire` then loads it). For the per-request
   * path: awaiting a lease that is already there costs it a turn of the microtask queue.
   * @throws ModelUnavailableError once the cache is closed.
   */
  leaseLoaded(name: ModelName): ModelLease | undefined {
    const entry = this.entry(name);
    if (!entry.current) return undefined;
    this.maybeCheck(name, entry);
    return this.lease(entry.current);
  }

  /** The version `name` is served with now, if any; no check, no load. */
  servingVersion(name: ModelName): ModelVersion | undefined {
    return this.entries.get(name)?.current?.manifest.version;
  }

  /** Resolves when no load, check or release is in progress (tests, orderly shutdown). */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /** Releases every loaded model once its leases are returned; later acquires fail. */
  async close(): Promise<void> {
    this.closed = true;
    await this.settled();
    for (const entry of this.entries.values()) {
      if (entry.current) this.retire(entry.current);
      entry.current = undefined;
    }
    await this.settled();
  }

  private entry(name: ModelName): Entry {
    if (this.closed) throw new ModelUnavailableError(name, undefined, new Error('the model cache is closed'));
    let entry = this.entries.get(name);
    if (!entry) {
      entry = { current: undefined, checkedAt: -Infinity, checking: undefined, cold: undefined, coldFailure: undefined };
      this.entries.set(name, entry);
    }
    return entry;
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.pending.add(promise);
    const untrack = () => this.pending.delete(promise);
    promise.then(untrack, untrack);
    return promise;
  }

  private coldLoad(name: ModelName, entry: Entry): Promise<void> {
    const failure = entry.coldFailure;
    if (failure && this.now() - failure.at < this.coldRetryMs) return Promise.reject(failure.error);
    if (!entry.cold) {
      entry.checkedAt = this.now();
      const cold = this.track(this.loadCold(name, entry));
      entry.cold = cold;
      // Cleared once settled, so that the first request after `coldRetryMs` starts a new attempt.
      const clear = () => {
        if (entry.cold === cold) entry.cold = undefined;
      };
      cold.then(clear, clear);
    }
    return entry.cold;
  }

  private async loadCold(name: ModelName, entry: Entry): Promise<void> {
    let version: ModelVersion | undefined;
    try {
      version = await this.options.registry.productionVersion(name);
      if (version === undefined) throw new ModelNotFoundError(name);
      const slot = await this.load(name, version, true);
      if (this.closed) {
        this.retire(slot);
        throw new ModelUnavailableError(name, version, new Error('the model cache is closed'));
      }
      entry.current = slot;
      entry.coldFailure = undefined;
    } catch (e) {
      const error = asServingError(name, version, e);
      if (!(error instanceof ModelNotFoundError)) this.emit({ type: 'load_failed', name, version, cold: true, error });
      entry.coldFailure = { at: this.now(), error };
      this.forgetOldFailures();
      throw error;
    }
  }

  /**
   * Names come from requests: remembering every failed one would let a client grow this map
   * without bound. Past MAX_FAILED_NAMES, the oldest names with nothing loaded are forgotten (a
   * later request for one simply tries again).
   */
  private forgetOldFailures(): void {
    let failed = 0;
    for (const entry of this.entries.values()) if (!entry.current && !entry.cold) failed++;
    for (const [name, entry] of this.entries) {
      if (failed <= MAX_FAILED_NAMES) return;
      if (entry.current || entry.cold) continue;
      this.entries.delete(name);
      failed--;
    }
  }

  private maybeCheck(name: ModelName, entry: Entry): void {
    if (entry.checking || this.closed) return;
    const now = this.now();
    if (now - entry.checkedAt < this.refreshMs) return;
    entry.checkedAt = now;
    entry.checking = this.track(this.check(name, entry).finally(() => (entry.checking = undefined)));
  }

  private async check(name: ModelName, entry: Entry): Promise<void> {
    let version: ModelVersion | undefined;
    try {
      version = await this.options.registry.productionVersion(name);
    } catch (e) {
      this.emit({ type: 'check_failed', name, error: toError(e) });
      return;
    }
    const serving = entry.current;
    if (!serving || version === serving.manifest.version) return;
    if (version === undefined) {
      // Nothing promoted (a demotion in progress, or a registry being repaired): keep answering
      // with what was last verified rather than failing every request.
      this.emit({ type: 'no_production', name, serving: serving.manifest.version });
      return;
    }
    let slot: Slot;
    try {
      slot = await this.load(name, version, false);
    } catch (e) {
      this.emit({ type: 'load_failed', name, version, cold: false, error: asServingError(name, version, e) });
      return;
    }
    const old = entry.current;
    if (this.closed || !old) {
      this.retire(slot);
      return;
    }
    entry.current = slot;
    this.emit({ type: 'swapped', name, from: old.manifest.version, to: version });
    this.retire(old);
  }

  /** Fetch, verify, check, load and warm up: the slot returned is ready to serve. */
  private async load(name: ModelName, version: ModelVersion, cold: boolean): Promise<Slot> {
    const started = this.now();
    const pkg = await this.options.registry.loadVerifiedPackage(name, version);
    const { manifest } = pkg;
    if (manifest.name !== name || manifest.version !== version) {
      throw new ModelIncompatibleError(`registry answered ${manifest.name} version ${manifest.version} for ${name} version ${version}`, 'manifest.version');
    }
    this.options.accept?.(manifest);
    const runtime = this.options.router.runtimeFor(manifest);
    const model = await runtime.load(pkg);
    if (model.featureCount !== manifest.features.length) {
      await model.release().catch(() => undefined);
      throw new ModelIncompatibleError(`model ${name} version ${version} takes ${model.featureCount} inputs, its manifest lists ${manifest.features.length} features`, 'manifest.features');
    }
    this.emit({ type: 'loaded', name, version, cold, ms: this.now() - started });
    const slot: Slot = new Slot(manifest, model, () => this.free(name, slot));
    return slot;
  }

  private lease(slot: Slot): ModelLease {
    slot.inFlight++;
    return new Lease(slot);
  }

  private retire(slot: Slot): void {
    slot.retired = true;
    if (slot.inFlight === 0) slot.free();
  }

  private free(name: ModelName, slot: Slot): void {
    if (slot.released) return;
    slot.released = true;
    const version = slot.manifest.version;
    this.track(
      slot.model.release().then(
        () => this.emit({ type: 'released', name, version }),
        (e: unknown) => this.emit({ type: 'release_failed', name, version, error: toError(e) }),
      ),
    );
  }

  private emit(event: ModelCacheEvent): void {
    try {
      this.options.onEvent?.(event);
    } catch {
      // A failing observer must not break serving.
    }
  }
}

const toError = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));

/**
 * Errors that already say precisely what is wrong pass through; anything else (a signature that
 * does not verify, a package that does not parse, a runtime that cannot load it) becomes a
 * ModelUnavailableError carrying it as `cause`.
 */
function asServingError(name: ModelName, version: ModelVersion | undefined, e: unknown): Error {
  if (e instanceof ModelNotFoundError || e instanceof TierNotDeployedError || e instanceof ModelIncompatibleError || e instanceof ModelUnavailableError) return e;
  if (e instanceof ResourceError && e.retryable) return e;
  if (e instanceof FathomError || e instanceof Error) return new ModelUnavailableError(name, version, e);
  return new ModelUnavailableError(name, version, toError(e));
}
