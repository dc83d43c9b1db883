import { describe, expect, it } from "vitest";
import { formatRoute, parseRoute, permalink, type Route } from "../src/route";

const ID = "93721707-c9ff-4cf3-9f7d-4e02bdf2b210";

describe("routes", () => {
  it.each<[string, Route]>([
    ["", { view: "playground", runId: null }],
    ["#", { view: "playground", runId: null }],
    [`#run=${ID}`, { view: "playground", runId: ID }],
    ["#tour", { view: "tour" }],
    ["#grading", { view: "grading", gradingId: null }],
    [`#grading=${ID}`, { view: "grading", gradingId: ID }],
    ["#doc=how-it-works", { view: "doc", name: "how-it-works", section: null }],
    ["#doc=sandbox&section=cgroup-v1-and-v2", { view: "doc", name: "sandbox", section: "cgroup-v1-and-v2" }],
    ["#doc", { view: "doc", name: "how-it-works", section: null }],
  ])("%s", (hash, route) => {
    expect(parseRoute(hash)).toEqual(route);
  });

  it("round-trips", () => {
    for (const hash of [`#run=${ID}`, "#tour", "#grading", `#grading=${ID}`, "#doc=sandbox&section=x"]) {
      expect(formatRoute(parseRoute(hash))).toBe(hash);
    }
  });

  it("ignores ids that are not ids", () => {
    expect(parseRoute("#run=<script>")).toEqual({ view: "playground", runId: null });
    expect(parseRoute("#doc=../../etc")).toEqual({ view: "doc", name: "how-it-works", section: null });
  });

  it("makes an absolute permalink", () => {
    expect(permalink(ID, { origin: "http://127.0.0.1:8000", pathname: "/" })).toBe(`http://127.0.0.1:8000/#run=${ID}`);
  });
});
