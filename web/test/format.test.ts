import { describe, expect, it } from "vitest";
import { describeEnd, formatBytes, formatMs, verdictLabel, verdictTone } from "../src/format";

describe("format", () => {
  it("bytes", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1023)).toBe("1023 B");
    expect(formatBytes(1024)).toBe("1.0 KiB");
    expect(formatBytes(3_670_016)).toBe("3.5 MiB");
    expect(formatBytes(268_435_456)).toBe("256 MiB");
  });

  it("milliseconds", () => {
    expect(formatMs(14)).toBe("14 ms");
    expect(formatMs(1500)).toBe("1.50 s");
    expect(formatMs(20_000)).toBe("20.0 s");
  });

  it("verdicts", () => {
    expect(verdictLabel("time_limit")).toBe("Time limit");
    expect(verdictTone("ok")).toBe("good");
    expect(verdictTone("memory_limit")).toBe("limit");
    expect(verdictTone("compile_error")).toBe("bad");
  });

  it("how a program ended", () => {
    expect(describeEnd({ exit_code: 0, signal: null })).toBe("exit code 0");
    expect(describeEnd({ exit_code: null, signal: "SIGKILL" })).toBe("signal SIGKILL");
    expect(describeEnd({ exit_code: null, signal: null })).toBeNull();
  });
});
