/**
 * The AWS entry points of the Lambda example (app.ts): `http` behind a function URL or API Gateway, `worker`
 * invoked asynchronously by it. Type-checked, not run here (app.ts is run by the tests). Deployment and
 * the SAM template: docs/lambda.md, template.yaml.
 * Env: SLACK_CLIENT_ID, SLACK_CLIENT_SECRET, SLACK_SIGNING_SECRET, DATABASE_URL, APP_URL,
 * WORKER_FUNCTION_NAME, and optionally SLACK_TOKEN_ENCRYPTION_KEY.
 */
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { createSlackLambda } from "./app.js";

/** A missing setting stops the cold start with a message (no half-configured function). */
function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (see docs/lambda.md)`);
  return value;
}

const lambda = new LambdaClient({});
const workerFunction = required("WORKER_FUNCTION_NAME");

// Built once per container (cold start), reused by every invocation it serves.
const app = createSlackLambda({
  clientId: required("SLACK_CLIENT_ID"),
  clientSecret: required("SLACK_CLIENT_SECRET"),
  signingSecret: required("SLACK_SIGNING_SECRET"),
  databaseUrl: required("DATABASE_URL"),
  appUrl: required("APP_URL"),
  encryptionKeys: process.env.SLACK_TOKEN_ENCRYPTION_KEY,
  // Acknowledge, then hand off: an asynchronous invocation (HTTP 202) is queued by Lambda before this
  // resolves, so nothing is left running when the HTTP function answers Slack.
  handOff: async (job, { signal }) => {
    const out = await lambda.send(
      new InvokeCommand({
        FunctionName: workerFunction,
        InvocationType: "Event",
        Payload: new TextEncoder().encode(JSON.stringify(job)),
      }),
      { abortSignal: signal },
    );
    if (out.StatusCode !== 202) throw new Error(`async invoke of the worker answered ${out.StatusCode}`);
  },
});

export const http = app.handler;
export const worker = app.worker;
