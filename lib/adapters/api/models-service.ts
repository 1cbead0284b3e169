// GET /v1/models and /v1/models/{name}: the registry's versions, states and holdout metrics, as
// client views (lib/core/api/views.ts) that leave out package locations and operators.
import { NotFoundError } from '../../core/api/errors';
import { parseModelNameParam } from '../../core/api/request';
import { modelViews, type ModelView } from '../../core/api/views';
import { ResourceError, ValidationError } from '../../core/errors';
import type { ModelName } from '../../core/models/manifest';
import type { ModelVersionRecord, RegistryReader } from '../../core/models/ports';

export interface ModelsAnswer {
  readonly request_id: string;
  readonly models: readonly ModelView[];
}

export type ModelAnswer = { readonly request_id: string } & ModelView;

export class ModelsService {
  constructor(private readonly registry: Pick<RegistryReader, 'listVersions'>) {}

  async list(requestId: string): Promise<ModelsAnswer> {
    return { request_id: requestId, models: modelViews(await this.read()) };
  }

  /** @throws ValidationError naming `name`; NotFoundError when no version of the name is registered. */
  async get(name: string | undefined, requestId: string): Promise<ModelAnswer> {
    const parsed = parseModelNameParam(name);
    if (!parsed.ok) throw parsed.error;
    const [view] = modelViews(await this.read(parsed.value));
    if (!view) throw new NotFoundError(`name: no model named ${parsed.value} is registered`, 'name');
    return { request_id: requestId, ...view };
  }

  /**
   * The registry's records. Whatever it refuses to read (an item that does not parse) is the
   * platform's fault, not the request's: never a 400 that would quote a stored item.
   */
  private async read(name?: ModelName): Promise<ModelVersionRecord[]> {
    try {
      return await this.registry.listVersions(name);
    } catch (error) {
      if (error instanceof ValidationError) throw new ResourceError(`model registry: ${error.field}: ${error.message}`, 'model-registry', false);
      throw error;
    }
  }
}
