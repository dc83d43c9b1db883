import { describe, expect, it } from "vitest";
import { toBase64 } from "../src/api/gradings";
import type { Language } from "../src/api/types";
import { verdictAbbreviation, verdictTone } from "../src/format";
import { languageForFile } from "../src/languages";
import { SAMPLE_SOLUTIONS } from "../src/sample-solutions";

const language = (name: string, extensions: string[]) => ({ name, extensions }) as Language;
const LANGUAGES = [language("python", [".py"]), language("cpp", [".cpp", ".cc"]), language("c", [".c"])];

describe("grading helpers", () => {
  it("finds a solution's language from its extension", () => {
    expect(languageForFile("alice.py", LANGUAGES)?.name).toBe("python");
    expect(languageForFile("BOB.CC", LANGUAGES)?.name).toBe("cpp");
    expect(languageForFile("notes.txt", LANGUAGES)).toBeNull();
    expect(languageForFile(".py", LANGUAGES)).toBeNull();
  });

  it("encodes any bytes, large ones too, as base64", () => {
    const bytes = new Uint8Array(200_000).map((_, i) => i % 256);
    expect(toBase64(bytes)).toBe(Buffer.from(bytes).toString("base64"));
  });

  it("abbreviates test verdicts as judges do", () => {
    expect(verdictAbbreviation("accepted")).toBe("AC");
    expect(verdictAbbreviation("time_limit")).toBe("TLE");
    expect(verdictTone("skipped")).toBe("neutral");
  });

  it("labels every example solution uniquely", () => {
    const labels = SAMPLE_SOLUTIONS.map((s) => s.label);
    expect(new Set(labels).size).toBe(labels.length);
  });
});
