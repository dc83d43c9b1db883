/**
 * The code editor: CodeMirror 6 with line numbers, bracket matching, auto-indentation, Tab to
 * indent, and the syntax of the picked language (its mode is loaded on first use).
 *
 * Keyboard: Tab indents inside the editor; Escape then Tab (or Shift+Tab) moves focus on, so the
 * editor never traps the keyboard. Ctrl/Cmd+Enter runs the program.
 */
import { indentWithTab } from "@codemirror/commands";
import { Annotation, Compartment, EditorState, Prec } from "@codemirror/state";
import { EditorView, keymap } from "@codemirror/view";
import { basicSetup } from "codemirror";
import { indentUnit } from "@codemirror/language";
import { oneDark } from "@codemirror/theme-one-dark";
import { describeLanguage, indentFor } from "./editor-languages";

/** The page follows the system's colour scheme; so does the editor's theme. */
const darkMode = typeof matchMedia === "function" ? matchMedia("(prefers-color-scheme: dark)") : null;

/** Marks changes made by the page itself (loading a file), as opposed to typing. */
const loaded = Annotation.define<boolean>();

export interface EditorOptions {
  parent: HTMLElement;
  /** The id of the element that labels the editor, for screen readers. */
  labelledBy: string;
  /** Called after each change the user makes (typing, pasting, undo). */
  onUserChange: (code: string) => void;
  /** Ctrl/Cmd+Enter. */
  onRun: () => void;
}

export class CodeEditor {
  private readonly view: EditorView;
  private readonly syntax = new Compartment();
  private readonly indent = new Compartment();
  private readonly theme = new Compartment();
  private languageToken = 0;

  constructor(options: EditorOptions) {
    this.view = new EditorView({
      parent: options.parent,
      state: EditorState.create({
        doc: "",
        extensions: [
          Prec.highest(
            keymap.of([
              {
                key: "Mod-Enter",
                run: () => {
                  options.onRun();
                  return true;
                },
              },
            ]),
          ),
          basicSetup,
          keymap.of([indentWithTab]),
          this.syntax.of([]),
          this.indent.of(indentUnit.of("    ")),
          this.theme.of(darkMode?.matches ? oneDark : []),
          EditorView.contentAttributes.of({
            "aria-labelledby": options.labelledBy,
            "aria-describedby": "editor-help",
          }),
          EditorView.updateListener.of((update) => {
            if (!update.docChanged) return;
            if (update.transactions.some((tr) => tr.annotation(loaded))) return;
            options.onUserChange(update.state.doc.toString());
          }),
        ],
      }),
    });
    this.followColorScheme();
  }

  private followColorScheme(): void {
    darkMode?.addEventListener("change", (event) => {
      this.view.dispatch({ effects: this.theme.reconfigure(event.matches ? oneDark : []) });
    });
  }

  get code(): string {
    return this.view.state.doc.toString();
  }

  /** Replace the whole text (not reported as a user change, not one undo step with typing). */
  load(code: string): void {
    this.view.dispatch({
      changes: { from: 0, to: this.view.state.doc.length, insert: code },
      selection: { anchor: 0 },
      annotations: [loaded.of(true)],
      scrollIntoView: true,
    });
  }

  /** Highlight as this language; the mode is fetched on first use, and a late answer for a
   * language no longer picked is ignored. */
  async setLanguage(name: string, sourceFile: string): Promise<void> {
    const token = ++this.languageToken;
    this.view.dispatch({ effects: this.indent.reconfigure(indentUnit.of(indentFor(name))) });
    const description = describeLanguage(name, sourceFile);
    if (description === null) {
      this.view.dispatch({ effects: this.syntax.reconfigure([]) });
      return;
    }
    let support;
    try {
      support = await description.load();
    } catch {
      return; // the mode's file could not be fetched: keep editing as plain text
    }
    if (token !== this.languageToken) return;
    this.view.dispatch({ effects: this.syntax.reconfigure(support) });
  }

  focus(): void {
    this.view.focus();
  }
}
