export * from "./installation.js";
export * from "./parse.js";
