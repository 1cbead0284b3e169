// A model is servable only if its input is exactly what the engine computes: same feature set
// version and the same feature names in the same column order. Anything else would feed the model
// a shifted or differently defined vector and return confident nonsense, so it is refused at load.
import type { FeatureEngine } from '../features/engine';
import type { Manifest } from '../models/manifest';
import { ModelIncompatibleError } from './errors';

export function assertServable(manifest: Manifest, engine: FeatureEngine): void {
  const who = `model ${manifest.name} version ${manifest.version}`;
  if (manifest.feature_set !== engine.version) {
    throw new ModelIncompatibleError(`${who} was trained on feature set ${manifest.feature_set}; this engine computes ${engine.version}`, 'manifest.feature_set');
  }
  const names = engine.names;
  const n = Math.max(names.length, manifest.features.length);
  for (let i = 0; i < n; i++) {
    if (manifest.features[i] !== names[i]) {
      throw new ModelIncompatibleError(
        `${who}: feature ${i} is ${manifest.features[i] ?? '(none)'}, the engine's is ${names[i] ?? '(none)'} (${manifest.features.length} vs ${names.length} features)`,
        `manifest.features[${i}]`,
      );
    }
  }
}
