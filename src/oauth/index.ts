export * from "./authorize-url.js";
