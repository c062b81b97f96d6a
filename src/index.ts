// Public API of vla-runtime.
export * from "./config/schema.js";
export { ConfigError, describeOptions, loadConfig, parseConfig, type OptionInfo } from "./config/load.js";
export * from "./runtime/types.js";
export * from "./kinematics/description.js";
