import { describe, expect, it } from "vitest";
import type { Limits } from "../src/api/types";
import { LimitsError, nonDefaultLimits, readLimits } from "../src/limits";

const DEFAULTS: Limits = {
  cpu_time_limit_s: 2,
  wall_time_limit_s: 5,
  memory_limit_mb: 256,
  pids_limit: 64,
  output_limit_kb: 64,
  file_size_limit_kb: 16384,
  network: false,
};

describe("limits", () => {
  it("leaves empty fields out", () => {
    expect(readLimits({ cpu_time_limit_s: " ", memory_limit_mb: "" })).toEqual({});
  });

  it("reads numbers", () => {
    expect(readLimits({ cpu_time_limit_s: "0.5", pids_limit: "8" })).toEqual({ cpu_time_limit_s: 0.5, pids_limit: 8 });
  });

  it("refuses what the server would refuse", () => {
    expect(() => readLimits({ memory_limit_mb: "2" })).toThrow(LimitsError);
    expect(() => readLimits({ pids_limit: "2.5" })).toThrow(/whole number/);
    expect(() => readLimits({ cpu_time_limit_s: "abc" })).toThrow(/CPU time/);
  });

  it("finds the limits a run changed", () => {
    expect(nonDefaultLimits({ ...DEFAULTS, cpu_time_limit_s: 1 }, DEFAULTS)).toEqual({ cpu_time_limit_s: "1" });
  });
});
