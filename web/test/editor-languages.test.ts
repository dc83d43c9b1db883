import { describe, expect, it } from "vitest";
import { describeLanguage, indentFor } from "../src/editor-languages";

describe("editor modes", () => {
  it.each([
    ["python", "main.py", "Python"],
    ["cpp", "main.cpp", "C++"],
    ["c", "main.c", "C"],
    ["javascript", "main.js", "JavaScript"],
    ["bash", "main.sh", "Shell"],
    ["java", "Main.java", "Java"],
    ["perl", "main.pl", "Perl"],
    ["r", "main.R", "R"],
    ["sql", "main.sql", "SQLite"],
  ])("%s (%s) is highlighted as %s", (name, file, mode) => {
    expect(describeLanguage(name, file)?.name).toBe(mode);
  });

  it("does not mistake Prolog for Perl", () => {
    expect(describeLanguage("prolog", "main.pl")).toBeNull();
  });

  it("indents by each language's style", () => {
    expect(indentFor("python")).toBe("    ");
    expect(indentFor("javascript")).toBe("  ");
    expect(indentFor("go")).toBe("\t");
  });
});
