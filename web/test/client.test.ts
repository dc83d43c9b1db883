import { describe, expect, it } from "vitest";
import { ApiClient, ApiError, parseRetryAfter } from "../src/api/client";

function respond(status: number, body: unknown, headers: Record<string, string> = {}) {
  return async () =>
    new Response(typeof body === "string" ? body : JSON.stringify(body), {
      status,
      headers: { "Content-Type": "application/json", ...headers },
    });
}

describe("ApiClient", () => {
  it("returns status and body", async () => {
    const client = new ApiClient("", respond(202, { id: "x", status: "queued" }));
    await expect(client.post("/v1/runs", {})).resolves.toEqual({ status: 202, body: { id: "x", status: "queued" } });
  });

  it("turns a 429 into an ApiError with Retry-After", async () => {
    const client = new ApiClient("", respond(429, { detail: "Rate limit reached.", errors: [] }, { "Retry-After": "7" }));
    const error = await client.get("/v1/runs/x").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 429, detail: "Rate limit reached.", retryAfterS: 7 });
  });

  it("keeps the per-field lines of a 422", async () => {
    const body = { detail: "Invalid request: a; b", errors: ["limits.cpu: a", "stdin: b"] };
    const error = await new ApiClient("", respond(422, body)).get("/").catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 422, errors: ["limits.cpu: a", "stdin: b"] });
  });

  it("explains a body that is not JSON", async () => {
    const client = new ApiClient("", async () => new Response("<html>bad gateway</html>", { status: 502, statusText: "Bad Gateway" }));
    const error = await client.get("/").catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 502, detail: "The server answered 502 Bad Gateway." });
  });

  it("explains a server that cannot be reached", async () => {
    const client = new ApiClient("", async () => {
      throw new TypeError("Failed to fetch");
    });
    const error = await client.get("/").catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 0 });
    expect((error as ApiError).detail).toMatch(/Cannot reach/);
  });
});

describe("parseRetryAfter", () => {
  it("reads seconds and dates", () => {
    expect(parseRetryAfter("5")).toBe(5);
    expect(parseRetryAfter(null)).toBeNull();
    expect(parseRetryAfter("soon")).toBeNull();
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:30 GMT", now)).toBe(30);
  });
});
