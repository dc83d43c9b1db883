import { describe, expect, it } from "vitest";
import { ApiClient } from "../src/api/client";
import { backoff, runProgram, type Progress } from "../src/api/runs";

function run(status: string, extra: Record<string, unknown> = {}) {
  return { id: "r1", status, ...extra };
}

/** A fake server answering each request with the next prepared response. */
function server(...answers: [number, unknown][]) {
  const seen: string[] = [];
  const fetch = async (input: string, init?: RequestInit) => {
    seen.push(`${init?.method ?? "GET"} ${input}`);
    const [status, body] = answers.shift() ?? [500, { detail: "no more answers" }];
    return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  };
  return { client: new ApiClient("", fetch), seen };
}

const noSleep = async () => {};

describe("runProgram", () => {
  it("needs one request when the server answers within its wait", async () => {
    const { client, seen } = server([200, run("done", { verdict: "ok" })]);
    const result = await runProgram(client, { language: "python", source: "print(1)" }, { sleep: noSleep });
    expect(result).toMatchObject({ status: "done", verdict: "ok" });
    expect(seen).toEqual(["POST /v1/runs?wait=true"]);
  });

  it("polls a run that is still going until it ends, reporting each status once", async () => {
    const { client, seen } = server(
      [202, run("queued")],
      [200, run("running")],
      [200, run("running")],
      [200, run("done", { verdict: "time_limit" })],
    );
    const progress: Progress[] = [];
    const result = await runProgram(client, { language: "bash", source: "sleep 9" }, {
      sleep: noSleep,
      onProgress: (p) => progress.push(p),
    });
    expect(result.verdict).toBe("time_limit");
    expect(seen.slice(1)).toEqual(["GET /v1/runs/r1", "GET /v1/runs/r1", "GET /v1/runs/r1"]);
    expect(progress.map((p) => p.status)).toEqual(["queued", "running", "done"]);
  });

  it("backs off up to two seconds", () => {
    expect(backoff(0)).toBe(200);
    expect(backoff(1)).toBe(300);
    expect(backoff(20)).toBe(2000);
  });
});
