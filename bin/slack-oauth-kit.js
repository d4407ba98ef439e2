#!/usr/bin/env node
// The CLI runs from the built package (`npm run build` or `npm install` builds dist/).
import { main } from "../dist/cli/index.js";

main(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === "number") process.exitCode = code;
  },
  (error) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  },
);
