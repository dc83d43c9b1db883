/**
 * Which CodeMirror mode highlights which catalogue language. Found from the language's file name
 * (`main.py` -> Python) through @codemirror/language-data, so a new catalogue language is
 * highlighted without a change here; the few whose file name misleads are listed.
 */
import { LanguageDescription } from "@codemirror/language";
import { languages } from "@codemirror/language-data";

/** Catalogue name -> language-data name, or null for none (plain text, still with every editing aid). */
const OVERRIDES: Record<string, string | null> = {
  prolog: null, // main.pl would match Perl
  sql: "SQLite",
};

export function describeLanguage(name: string, sourceFile: string): LanguageDescription | null {
  if (name in OVERRIDES) {
    const mode = OVERRIDES[name];
    return mode ? (LanguageDescription.matchLanguageName(languages, mode, false) ?? null) : null;
  }
  return LanguageDescription.matchFilename(languages, sourceFile);
}

/** One level of indentation, by each language's usual style (default: four spaces). */
const INDENTS: Record<string, string> = {
  go: "\t",
  clojure: "  ",
  coffeescript: "  ",
  commonlisp: "  ",
  elixir: "  ",
  haskell: "  ",
  javascript: "  ",
  ocaml: "  ",
  ruby: "  ",
  scala: "  ",
  scheme: "  ",
  typescript: "  ",
};

export function indentFor(name: string): string {
  return INDENTS[name] ?? "    ";
}
