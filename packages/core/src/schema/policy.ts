/**
 * The validation policy: when a call, result or event is checked against its
 * API's schema and cast to its declared types, per the API's config
 * (`validate.outgoing`, `validate.incoming`, `cast_values`, `strict_validation`).
 * The client and the worker ask it at each crossing; neither decides alone.
 *
 * - Outgoing data that fails its schema: ValidationError to the user, nothing sent.
 * - Incoming data that fails: a call raises; an event is rejected as poison
 *   (set aside by its transport).
 * - A result that fails, on either side, is delivered with a warning: the
 *   procedure has already run, and failing the call would invite doing it twice.
 * - Outgoing values are put on the wire by the schema too (`wireSchemaOf...`):
 *   a bigint is an exact JSON integer where the schema says integer.
 * - A schema that cannot be compiled (a peer's keyword this validator lacks)
 *   is reported once and skipped: it never blocks calls or events.
 */
import type { Config, ResolvedApiConfig } from '../config';
import { MessageRejectedError, UnknownApiError, UnknownProcedureError, ValidationError } from '../errors';
import type { Logger } from '../log';
import type { EventMessage, RpcMessage } from '../message';
import { errorText, isPlainObject } from '../util/async';
import { castBySchema } from './codec';
import type { SchemaRegistry } from './registry';
import type { ApiSchema, JsonSchema, RpcSchema } from './types';
import { assertValid } from './validator';

export class ValidationPolicy {
  /** Schemas that could not be compiled (already reported). */
  private readonly unusableSchemas = new WeakSet<Error>();

  constructor(
    private readonly config: Config,
    private readonly schemas: SchemaRegistry,
    private readonly logger: Logger,
  ) {}

  // ---- Calls, caller side ----------------------------------------------------------------

  /**
   * The schema of a procedure, when validation or casting may need it (loading
   * the bus's schemas if needed). Unknown procedure of a known API:
   * UnknownProcedureError. No schema: undefined, or UnknownApiError under strict_validation.
   */
  async callSchema(apiName: string, procedureName: string): Promise<RpcSchema | undefined> {
    const apiConfig = this.config.api(apiName);
    if (
      !apiConfig.validate.outgoing &&
      !apiConfig.validate.incoming &&
      !apiConfig.castValues &&
      !apiConfig.strictValidation
    ) {
      return undefined;
    }
    const schema = await this.schemaOf(apiName, apiConfig);
    if (!schema) return undefined;
    const rpc = schema.rpcs[procedureName];
    if (!rpc) {
      throw new UnknownProcedureError(
        `API '${apiName}' has no procedure '${procedureName}' (per its schema). Its procedures: ${Object.keys(schema.rpcs).join(', ') || '(none)'}.`,
      );
    }
    return rpc;
  }

  /** Parameters about to be sent (validate.outgoing). */
  outgoingCall(
    apiName: string,
    procedureName: string,
    schema: RpcSchema | undefined,
    kwargs: Record<string, unknown>,
  ): void {
    if (schema && this.config.api(apiName).validate.outgoing) {
      this.check(schema.parameters, kwargs, `parameters for ${apiName}.${procedureName}()`);
    }
  }

  /** A result received (validate.incoming), cast to its declared types (cast_values). */
  incomingResult(apiName: string, procedureName: string, schema: RpcSchema | undefined, value: unknown): unknown {
    if (!schema) return value;
    const apiConfig = this.config.api(apiName);
    if (apiConfig.validate.incoming)
      this.checkResult(schema.response, value, `result from ${apiName}.${procedureName}()`);
    return apiConfig.castValues ? castBySchema(schema.response, value) : value;
  }

  // ---- Calls, worker side ----------------------------------------------------------------

  /** The parameters of a call received, validated (validate.incoming) and cast (cast_values). */
  incomingCall(message: RpcMessage): Record<string, unknown> {
    const apiConfig = this.config.api(message.apiName);
    const schema = this.schemas.get(message.apiName)?.rpcs[message.procedureName];
    const params = isPlainObject(message.kwargs) ? message.kwargs : {};
    if (!schema) return params;
    if (apiConfig.validate.incoming)
      this.check(schema.parameters, params, `parameters for ${message.apiName}.${message.procedureName}()`);
    return apiConfig.castValues ? (castBySchema(schema.parameters, params) as Record<string, unknown>) : params;
  }

  /** The schema a result about to be sent back is put on the wire by. */
  wireSchemaOfResult(message: RpcMessage): JsonSchema | undefined {
    return this.schemas.get(message.apiName)?.rpcs[message.procedureName]?.response;
  }

  /** A result about to be sent back (validate.outgoing). */
  outgoingResult(message: RpcMessage, value: unknown): void {
    const schema = this.schemas.get(message.apiName)?.rpcs[message.procedureName];
    if (schema && this.config.api(message.apiName).validate.outgoing) {
      this.checkResult(schema.response, value ?? null, `result of ${message.apiName}.${message.procedureName}()`);
    }
  }

  // ---- Events ----------------------------------------------------------------------------

  /** The schema the parameters of an event about to be fired are put on the wire by. */
  wireSchemaOfEvent(apiName: string, eventName: string): JsonSchema | undefined {
    return this.schemas.get(apiName)?.events[eventName]?.parameters;
  }

  /** Parameters of an event about to be fired (validate.outgoing). */
  outgoingEvent(apiName: string, eventName: string, kwargs: Record<string, unknown>): void {
    if (!this.config.api(apiName).validate.outgoing) return;
    const schema = this.schemas.get(apiName)?.events[eventName];
    if (schema) this.check(schema.parameters, kwargs, `parameters for event ${apiName}.${eventName}`);
  }

  /** Validate (validate.incoming) and cast (cast_values) an event received; an invalid one is rejected as poison. */
  async incomingEvent(message: EventMessage): Promise<EventMessage> {
    const apiConfig = this.config.api(message.apiName);
    if (!apiConfig.validate.incoming && !apiConfig.castValues) return message;
    let schema: ApiSchema | undefined;
    try {
      schema = await this.schemaOf(message.apiName, apiConfig);
    } catch (error) {
      throw invalid(errorText(error), error);
    }
    const eventSchema = schema?.events[message.eventName];
    if (schema && !eventSchema && apiConfig.strictValidation) {
      throw invalid(`API '${message.apiName}' has no event '${message.eventName}' in its schema (strict_validation)`);
    }
    if (!eventSchema) return message;
    if (apiConfig.validate.incoming) {
      try {
        this.check(
          eventSchema.parameters,
          message.kwargs,
          `parameters for event ${message.apiName}.${message.eventName}`,
        );
      } catch (error) {
        if (!(error instanceof ValidationError)) throw error;
        this.logger.error(`Event ${message.id} set aside: ${error.message}`, {
          id: message.id,
          nativeId: message.nativeId,
        });
        throw new MessageRejectedError(error.message, { cause: error });
      }
    }
    return apiConfig.castValues
      ? { ...message, kwargs: castBySchema(eventSchema.parameters, message.kwargs) as Record<string, unknown> }
      : message;
  }

  // ---- Shared ----------------------------------------------------------------------------

  /**
   * Check a value against a schema. A ValidationError (bad value) propagates; a
   * schema that cannot be used at all is reported once and skipped.
   */
  private check(schema: JsonSchema, value: unknown, what: string): void {
    try {
      assertValid(schema, value, what);
    } catch (error) {
      if (error instanceof ValidationError) throw error;
      // validatorFor throws one error object per unusable schema: warn about each once.
      if (error instanceof Error && !this.unusableSchemas.has(error)) {
        this.unusableSchemas.add(error);
        this.logger.warn(`The schema for ${what} cannot be used for validation; skipping it: ${errorText(error)}`);
      }
    }
  }

  /**
   * Check a result against its schema. The procedure has already run: a result
   * that breaks the schema is reported and delivered, never turned into an error.
   */
  private checkResult(schema: JsonSchema, value: unknown, what: string): void {
    try {
      this.check(schema, value, what);
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      this.logger.warn(`${error.message} The procedure has already run: the result is delivered as it is.`);
    }
  }

  /** An API's schema (loading the bus's schemas if needed); strict_validation makes a missing one an error. */
  private async schemaOf(apiName: string, apiConfig: ResolvedApiConfig): Promise<ApiSchema | undefined> {
    let schema: ApiSchema | undefined;
    try {
      schema = await this.schemas.ensure(apiName);
    } catch (error) {
      this.logger.warn('Loading schemas from the bus failed; going on without a schema', {
        api: apiName,
        error: errorText(error),
      });
    }
    if (!schema && apiConfig.strictValidation) {
      throw new UnknownApiError(
        `No schema is known for API '${apiName}' and strict_validation is on. Start a worker that serves it, ` +
          `load its schema with lightbus run --schema, or turn strict_validation off for apis.${apiName}.`,
      );
    }
    return schema;
  }
}

/** An event rejected because it cannot be validated on receipt: poison, its cause a ValidationError (counted as `invalid`). */
function invalid(text: string, cause?: unknown): MessageRejectedError {
  return new MessageRejectedError(text, {
    cause: new ValidationError(text, cause === undefined ? undefined : { cause }),
  });
}
