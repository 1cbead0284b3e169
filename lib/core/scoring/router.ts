// Which backend runs a model: the manifest's tier decides. `cpu` is onnxruntime in this process;
// a GPU tier would be a remote endpoint. A tier without a backend here is refused with a typed
// error rather than silently served on the wrong hardware (or not at all).
import type { Manifest } from '../models/manifest';
import type { ModelRuntime } from '../models/ports';
import { TierNotDeployedError } from './errors';

export class ModelRouter {
  private readonly runtimes: ReadonlyMap<string, ModelRuntime>;

  constructor(runtimes: Readonly<Record<string, ModelRuntime>>) {
    this.runtimes = new Map(Object.entries(runtimes));
  }

  /** The tiers this deployment serves. */
  get tiers(): string[] {
    return [...this.runtimes.keys()];
  }

  /** @throws TierNotDeployedError naming the tier when no backend serves it. */
  runtimeFor(manifest: Manifest): ModelRuntime {
    const runtime = this.runtimes.get(manifest.tier);
    if (!runtime) throw new TierNotDeployedError(manifest.name, manifest.version, manifest.tier, this.tiers);
    return runtime;
  }
}
