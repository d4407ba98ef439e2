/**
 * A minimal keep-alive HTTP/1.1 client for the load drivers: node:http with a pooled agent, no redirects
 * followed, the whole body read as text. Cheaper per request than `fetch`, so the driver steals less CPU
 * from the servers it measures.
 */
import { Agent, request as httpRequest, type IncomingHttpHeaders } from "node:http";

export interface HttpReply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface HttpRequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

/** A client with its own keep-alive connection pool. */
export class HttpClient {
  readonly agent = new Agent({ keepAlive: true, maxSockets: 256 });

  request(url: string | URL, options: HttpRequestOptions = {}): Promise<HttpReply> {
    const u = typeof url === "string" ? new URL(url) : url;
    if (u.hostname !== "127.0.0.1" && u.hostname !== "localhost") {
      return Promise.reject(new Error(`bench http: refusing non-loopback host ${u.hostname}`));
    }
    const headers: Record<string, string> = { ...options.headers };
    if (options.body !== undefined) headers["content-length"] = String(Buffer.byteLength(options.body));
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          agent: this.agent,
          host: u.hostname,
          port: u.port,
          path: `${u.pathname}${u.search}`,
          method: options.method ?? "GET",
          headers,
        },
        (res) => {
          res.setEncoding("utf8");
          let body = "";
          res.on("data", (chunk: string) => {
            body += chunk;
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(options.body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
