// @vitest-environment jsdom
import { describe, expect, it } from "vitest";
import type { Run } from "../src/api/types";
import { renderResult } from "../src/views/result";

const BASE: Run = {
  id: "r1",
  status: "done",
  language: "python",
  limits: {
    cpu_time_limit_s: 2,
    wall_time_limit_s: 5,
    memory_limit_mb: 256,
    pids_limit: 64,
    output_limit_kb: 64,
    file_size_limit_kb: 16384,
    network: false,
  },
  files: [{ name: "main.py", content: "print(1)", encoding: "utf-8" }],
  main_file: "main.py",
  stdin: null,
  stdin_encoding: null,
  args: [],
  compiler_options: [],
  verdict: "ok",
  exit_code: 0,
  signal: null,
  cpu_time_ms: 14,
  wall_time_ms: 15,
  memory_peak_bytes: 3_670_016,
  stdout: "1\n",
  stdout_encoding: "utf-8",
  stdout_truncated: false,
  stderr: "",
  stderr_encoding: "utf-8",
  stderr_truncated: false,
  compile_output: null,
  compile_output_encoding: null,
  message: null,
  queued_at: "2026-01-01T00:00:00Z",
  started_at: null,
  finished_at: null,
};

describe("renderResult", () => {
  it("shows the verdict, figures and outputs", () => {
    const element = renderResult(BASE);
    expect(element.querySelector("[data-verdict=ok]")?.textContent).toBe("OK");
    expect(element.querySelector("[data-output=stdout]")?.textContent).toBe("1\n");
    expect(element.textContent).toContain("exit code 0");
    expect(element.textContent).toContain("3.5 MiB");
    expect(element.querySelector(".output-stderr .empty")).not.toBeNull();
  });

  it("marks truncated output with the limit", () => {
    const element = renderResult({ ...BASE, verdict: "output_limit", stdout_truncated: true });
    expect(element.querySelector(".output-stdout [data-truncated]")?.textContent).toBe("truncated at 64 KiB");
  });

  it("never interprets output as markup", () => {
    const element = renderResult({ ...BASE, stdout: "<img src=x onerror=alert(1)>" });
    expect(element.querySelector("img")).toBeNull();
  });

  it("shows a failed run's status and message instead of figures", () => {
    const element = renderResult({ ...BASE, status: "failed", verdict: null, message: "The sandbox failed." });
    expect(element.querySelector("[data-status=failed]")?.textContent).toBe("Failed");
    expect(element.querySelector(".metrics")).toBeNull();
    expect(element.textContent).toContain("The sandbox failed.");
  });

  it("shows a signal and compiler output", () => {
    const element = renderResult({ ...BASE, verdict: "runtime_error", exit_code: null, signal: "SIGSEGV", compile_output: "warning: x" });
    expect(element.textContent).toContain("signal SIGSEGV");
    expect(element.querySelector("[data-output=compile]")?.textContent).toBe("warning: x");
  });
});
