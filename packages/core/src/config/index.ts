/** Config: loading (file, env, in-code), validation, resolution with apis.default fallback. */
export { Config, loadConfig, configJsonSchema, setCommandLineOverrides, DEFAULT_TRANSPORT } from './config';
export type { ResolvedApiConfig, TransportSelection, LoadConfigOptions } from './config';
export { findConfigFile, readConfigFile, DEFAULT_CONFIG_FILES } from './load';
export { rootConfigSchema, apiConfigSchema, transportSelectorSchema } from './schema';
export type { LightbusConfigInput, ApiConfigInput } from './schema';
export { validateAgainst, formatErrors } from './validate';
