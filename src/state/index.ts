export * from "./cookie.js";
export * from "./state.js";
