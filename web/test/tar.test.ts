import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { tar } from "../src/tar";

const text = (s: string) => new TextEncoder().encode(s);

describe("tar", () => {
  it("writes an archive that GNU tar lists and extracts exactly", () => {
    const longDir = "d".repeat(90) + "/" + "e".repeat(40);
    const entries = [
      { name: "problem.toml", data: text('name = "x"\n') },
      { name: "tests/01.in", data: text("1 2\n") },
      { name: "tests/empty.out", data: new Uint8Array() },
      { name: `${longDir}/file.txt`, data: text("x".repeat(1000)) },
    ];
    const dir = mkdtempSync(join(tmpdir(), "jaula-tar-"));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, "a.tar");
    writeFileSync(path, tar(entries));
    const listing = execFileSync("tar", ["-tvf", path], { encoding: "utf-8" });
    expect(listing.trim().split("\n")).toHaveLength(4);
    execFileSync("tar", ["-xf", path, "-C", dir]);
    for (const entry of entries) expect(new Uint8Array(readFileSync(join(dir, entry.name)))).toEqual(entry.data);
    // Python's tarfile, which the server unpacks uploads with, reads the same entries.
    const script = "import sys, tarfile; print([(m.name, m.size) for m in tarfile.open(sys.argv[1]) if m.isfile()])";
    const read = execFileSync("python3", ["-c", script, path], { encoding: "utf-8" });
    expect(read.trim()).toBe("[" + entries.map((e) => `('${e.name}', ${e.data.length})`).join(", ") + "]");
  });

  it("gives the same bytes for the same files", () => {
    const entries = [{ name: "a", data: text("a") }];
    expect(tar(entries)).toEqual(tar(entries));
  });
});
