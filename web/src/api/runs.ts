/**
 * Running a program: submit with `wait=true` (one round trip when the server is quick), and when
 * the run is still queued or running after the server's bounded wait, poll it until it ends.
 */
import type { ApiClient } from "./client";
import { FINAL_STATUSES, type Run, type RunAccepted, type RunCreate, type Status } from "./types";

export interface Progress {
  id: string;
  status: Status;
}

export interface PollOptions {
  /** Called with the id and status as soon as they are known, and on every change. */
  onProgress?: (progress: Progress) => void;
  signal?: AbortSignal;
  /** Delay before the n-th poll (0-based), in ms. */
  delayMs?: (attempt: number) => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** 200 ms at first, growing to 2 s: short runs show up at once, long ones cost few requests. */
export function backoff(attempt: number): number {
  return Math.min(2000, 200 * 1.5 ** attempt);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(new DOMException("Aborted", "AbortError"));
      },
      { once: true },
    );
  });
}

export function isFinal(status: Status): boolean {
  return FINAL_STATUSES.has(status);
}

export async function getRun(client: ApiClient, id: string, signal?: AbortSignal): Promise<Run> {
  return client.get<Run>(`/v1/runs/${encodeURIComponent(id)}`, signal);
}

/** Poll a run until its status is final; returns the finished run. */
export async function waitForRun(client: ApiClient, id: string, options: PollOptions = {}): Promise<Run> {
  const delay = options.delayMs ?? backoff;
  const pause = options.sleep ?? sleep;
  let last: Status | null = null;
  for (let attempt = 0; ; attempt++) {
    const run = await getRun(client, id, options.signal);
    if (run.status !== last) {
      last = run.status;
      options.onProgress?.({ id, status: run.status });
    }
    if (isFinal(run.status)) return run;
    await pause(delay(attempt), options.signal);
  }
}

/** Submit a run and resolve with it once it has finished. */
export async function runProgram(client: ApiClient, request: RunCreate, options: PollOptions = {}): Promise<Run> {
  const { status, body } = await client.post<Run | RunAccepted>("/v1/runs?wait=true", request, options.signal);
  options.onProgress?.({ id: body.id, status: body.status });
  if (status === 200 && isFinal(body.status)) return body as Run;
  return waitForRun(client, body.id, options);
}
