/**
 * A thin fetch wrapper for the jaula API: JSON in, JSON out, and every failure turned into an
 * ApiError that carries what the page needs to explain it (status, the server's sentence, the
 * per-field lines of a 422, and Retry-After for 429/503).
 */
import type { ErrorBody } from "./types";

export class ApiError extends Error {
  constructor(
    /** HTTP status; 0 when the server could not be reached at all. */
    readonly status: number,
    readonly detail: string,
    readonly errors: readonly string[] = [],
    /** Seconds to wait before trying again (Retry-After), when the server said so. */
    readonly retryAfterS: number | null = null,
  ) {
    super(detail);
    this.name = "ApiError";
  }
}

export type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

export function parseRetryAfter(value: string | null, now: number = Date.now()): number | null {
  if (value === null || value.trim() === "") return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
  const date = Date.parse(value); // Retry-After may also be an HTTP date
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - now) / 1000));
}

async function errorFrom(response: Response): Promise<ApiError> {
  const retryAfterS = parseRetryAfter(response.headers.get("Retry-After"));
  let body: Partial<ErrorBody> = {};
  try {
    body = (await response.json()) as Partial<ErrorBody>;
  } catch {
    // not JSON (a proxy's error page, say): fall back to the status text below
  }
  const detail =
    typeof body.detail === "string" && body.detail
      ? body.detail
      : `The server answered ${response.status} ${response.statusText}`.trim() + ".";
  const errors = Array.isArray(body.errors) ? body.errors.filter((e) => typeof e === "string") : [];
  return new ApiError(response.status, detail, errors, retryAfterS);
}

export interface JsonResponse<T> {
  status: number;
  body: T;
}

export class ApiClient {
  constructor(
    private readonly base: string = "",
    private readonly fetchImpl: Fetch = (input, init) => fetch(input, init),
  ) {}

  async request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<JsonResponse<T>> {
    const init: RequestInit = { method, headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers = { ...init.headers, "Content-Type": "application/json" };
    }
    if (signal) init.signal = signal;
    let response: Response;
    try {
      response = await this.fetchImpl(this.base + path, init);
    } catch (error) {
      if (error instanceof DOMException && error.name === "AbortError") throw error;
      throw new ApiError(0, "Cannot reach the jaula server: check that it is running and try again.");
    }
    if (!response.ok) throw await errorFrom(response);
    return { status: response.status, body: (await response.json()) as T };
  }

  async get<T>(path: string, signal?: AbortSignal): Promise<T> {
    return (await this.request<T>("GET", path, undefined, signal)).body;
  }

  post<T>(path: string, body: unknown, signal?: AbortSignal): Promise<JsonResponse<T>> {
    return this.request<T>("POST", path, body, signal);
  }
}
