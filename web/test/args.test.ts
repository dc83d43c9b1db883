import { describe, expect, it } from "vitest";
import { ArgsError, joinArgs, splitArgs } from "../src/args";

describe("splitArgs", () => {
  it.each([
    ["", []],
    ["  ", []],
    ["a b  c", ["a", "b", "c"]],
    ['one "two words"', ["one", "two words"]],
    ["'it''s'", ["its"]],
    ["'a \"b\"'", ['a "b"']],
    ['"a \\"b\\" \\n"', ['a "b" \\n']],
    ["a\\ b", ["a b"]],
    ["''", [""]],
    ['x""y', ["xy"]],
  ])("%j -> %j", (line, expected) => {
    expect(splitArgs(line)).toEqual(expected);
  });

  it("refuses an unclosed quote", () => {
    expect(() => splitArgs('a "b')).toThrow(ArgsError);
    expect(() => splitArgs("a 'b")).toThrow(/single quote/);
  });
});

describe("joinArgs", () => {
  it("round-trips through splitArgs", () => {
    const args = ["plain", "two words", "it's", "", "$HOME", 'q"uote', "a\\b", "--flag=1"];
    expect(splitArgs(joinArgs(args))).toEqual(args);
  });

  it("leaves simple words unquoted", () => {
    expect(joinArgs(["-n", "3", "file.txt"])).toBe("-n 3 file.txt");
  });
});
