/**
 * The playground: pick a language, edit, give stdin and arguments, maybe limits, run, read the
 * result; every run gets a permalink (#run=<id>) that reopens it with its code and result.
 */
import type { ApiClient } from "../api/client";
import { ApiError } from "../api/client";
import { getRun, isFinal, type Progress, runProgram, waitForRun } from "../api/runs";
import type { Language, LimitName, Run, RunCreate } from "../api/types";
import { joinArgs, splitArgs } from "../args";
import { byId, h } from "../dom";
import { CodeEditor } from "../editor";
import { statusLabel, verdictLabel } from "../format";
import { LIMIT_FIELDS, nonDefaultLimits, readLimits } from "../limits";
import { formatRoute, permalink } from "../route";
import type { Memory } from "../storage";
import { showError } from "./errors";
import { renderResult } from "./result";

const PREFERRED_LANGUAGE = "python";
const SAVE_DELAY_MS = 300;

export class Playground {
  private readonly select = byId<HTMLSelectElement>("language");
  private readonly version = byId("language-version");
  private readonly runButton = byId<HTMLButtonElement>("run-button");
  private readonly runLabel = byId("run-label");
  private readonly stdin = byId<HTMLTextAreaElement>("stdin");
  private readonly args = byId<HTMLInputElement>("args");
  private readonly limitInputs = new Map<LimitName, HTMLInputElement>();
  private readonly formError = byId("form-error");
  private readonly status = byId("run-status");
  private readonly result = byId("result");
  private readonly resultPanel = byId("result-panel");
  private readonly editor: CodeEditor;

  private languages = new Map<string, Language>();
  private language: Language | null = null;
  private running = false;
  /** The run shown in the result panel (its id is in the address). */
  private shownRunId: string | null = null;
  private saveTimer: ReturnType<typeof setTimeout> | undefined;
  private controller: AbortController | null = null;

  constructor(
    private readonly client: ApiClient,
    private readonly memory: Memory,
  ) {
    this.editor = new CodeEditor({
      parent: byId("editor"),
      labelledBy: "editor-label",
      onUserChange: (code) => this.scheduleSave(code),
      onRun: () => void this.run(),
    });
    this.renderLimitFields();
    byId<HTMLFormElement>("run-form").addEventListener("submit", (event) => {
      event.preventDefault();
      void this.run();
    });
    this.select.addEventListener("change", () => this.pickLanguage(this.select.value));
    byId("reset-code").addEventListener("click", () => this.resetCode());
    byId("copy-permalink").addEventListener("click", () => void this.copyPermalink());
  }

  /** Fill the language picker and open the last language used (or Python). */
  setLanguages(languages: readonly Language[]): void {
    this.languages = new Map(languages.map((language) => [language.name, language]));
    this.select.replaceChildren(
      ...languages.map((language) =>
        h(
          "option",
          { value: language.name },
          language.display_name + (language.version === null ? " (not installed)" : ""),
        ),
      ),
    );
    const remembered = this.memory.language();
    const first =
      (remembered && this.languages.get(remembered)) || this.languages.get(PREFERRED_LANGUAGE) || languages[0];
    if (first && !this.language) this.pickLanguage(first.name);
    this.runButton.disabled = languages.length === 0;
  }

  /** Switch language: keep what was typed for the old one, load what was kept for the new one. */
  pickLanguage(name: string, code?: string): void {
    const language = this.languages.get(name);
    if (!language) return;
    this.flushSave();
    this.language = language;
    this.select.value = name;
    this.version.textContent = language.version ?? "image not built on this server";
    this.memory.saveLanguage(name);
    this.editor.load(code ?? this.memory.code(name) ?? language.hello_world);
    this.setLimitPlaceholders(language);
    void this.editor.setLanguage(language.name, language.source_file);
  }

  /** Put a program in the editor (from the tour); it is remembered once the user edits it. */
  openProgram(languageName: string, code: string): void {
    this.pickLanguage(languageName, code);
  }

  focusEditor(): void {
    this.editor.focus();
  }

  private resetCode(): void {
    if (!this.language) return;
    this.memory.forgetCode(this.language.name);
    this.editor.load(this.language.hello_world);
    this.editor.focus();
  }

  private scheduleSave(code: string): void {
    clearTimeout(this.saveTimer);
    const language = this.language?.name;
    if (!language) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.memory.saveCode(language, code);
    }, SAVE_DELAY_MS);
  }

  private flushSave(): void {
    if (this.saveTimer === undefined || !this.language) return;
    clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    this.memory.saveCode(this.language.name, this.editor.code);
  }

  // --- Limits -----------------------------------------------------------------------------------

  private renderLimitFields(): void {
    const container = byId("limits-fields");
    for (const field of LIMIT_FIELDS) {
      const id = `limit-${field.name}`;
      const input = h("input", {
        id,
        name: field.name,
        type: "number",
        inputmode: field.integer ? "numeric" : "decimal",
        min: field.min,
        step: field.step,
        autocomplete: "off",
      });
      this.limitInputs.set(field.name, input);
      container.append(
        h("div", { class: "limit" }, h("label", { for: id }, field.label + (field.unit ? ` (${field.unit})` : "")), input),
      );
    }
  }

  private setLimitPlaceholders(language: Language): void {
    for (const field of LIMIT_FIELDS) {
      const input = this.limitInputs.get(field.name);
      if (input) input.placeholder = String(language.default_limits[field.name]);
    }
  }

  private setLimitValues(values: Partial<Record<LimitName, string>>): void {
    for (const [name, input] of this.limitInputs) input.value = values[name] ?? "";
    if (Object.keys(values).length > 0) byId<HTMLDetailsElement>("limits").open = true;
  }

  // --- Running ------------------------------------------------------------------------------------

  private request(): RunCreate {
    if (!this.language) throw new Error("no language is available");
    const request: RunCreate = { language: this.language.name, source: this.editor.code };
    if (this.stdin.value !== "") request.stdin = this.stdin.value;
    const args = splitArgs(this.args.value);
    if (args.length > 0) request.args = args;
    const values: Partial<Record<LimitName, string>> = {};
    for (const [name, input] of this.limitInputs) values[name] = input.value;
    const limits = readLimits(values);
    if (Object.keys(limits).length > 0) request.limits = limits;
    return request;
  }

  async run(): Promise<void> {
    if (this.running || !this.language) return;
    showError(this.formError, null);
    let request: RunCreate;
    try {
      request = this.request();
    } catch (error) {
      showError(this.formError, error);
      return;
    }
    this.flushSave();
    this.controller?.abort();
    this.controller = new AbortController();
    this.setRunning(true);
    this.announce("Sending the program…");
    try {
      const run = await runProgram(this.client, request, {
        signal: this.controller.signal,
        onProgress: (progress) => this.onProgress(progress),
      });
      this.showRun(run);
      this.revealResult();
    } catch (error) {
      if (isAbort(error)) return;
      this.announce("The run was not started.");
      showError(this.formError, error);
    } finally {
      this.setRunning(false);
    }
  }

  private onProgress(progress: Progress): void {
    if (progress.id !== this.shownRunId) {
      this.shownRunId = progress.id;
      history.replaceState(null, "", formatRoute({ view: "playground", runId: progress.id }));
      this.setPermalink(progress.id);
    }
    if (!isFinal(progress.status)) this.announce(`${statusLabel(progress.status)}…`);
  }

  private setRunning(running: boolean): void {
    this.running = running;
    this.runButton.disabled = running;
    this.runButton.setAttribute("aria-disabled", String(running));
    this.runLabel.textContent = running ? "Running…" : "Run";
    this.resultPanel.setAttribute("aria-busy", String(running));
    this.resultPanel.classList.toggle("is-running", running);
  }

  private announce(text: string): void {
    this.status.textContent = text;
  }

  private showRun(run: Run): void {
    this.shownRunId = run.id;
    this.setPermalink(run.id);
    this.result.replaceChildren(renderResult(run));
    this.announce(summary(run));
  }

  /** On a narrow screen the result is below the form: bring it into view. */
  private revealResult(): void {
    const top = this.resultPanel.getBoundingClientRect().top;
    if (top > window.innerHeight * 0.8) this.resultPanel.scrollIntoView({ block: "start" });
  }

  private setPermalink(id: string): void {
    const link = byId<HTMLAnchorElement>("permalink");
    link.href = formatRoute({ view: "playground", runId: id });
    link.textContent = permalink(id, window.location);
    byId("permalink-row").hidden = false;
  }

  private async copyPermalink(): Promise<void> {
    const text = byId("permalink").textContent ?? "";
    try {
      await navigator.clipboard.writeText(text);
      this.announce("Permalink copied.");
    } catch {
      this.announce("Copying is not allowed here; select the link and copy it.");
    }
  }

  // --- Permalinks -----------------------------------------------------------------------------------

  /** Reopen a run: its language, code, stdin, arguments, limits and result. */
  async open(runId: string): Promise<void> {
    if (runId === this.shownRunId) return;
    this.controller?.abort();
    const controller = (this.controller = new AbortController());
    showError(this.formError, null);
    this.shownRunId = runId;
    this.result.replaceChildren();
    this.announce("Loading the run…");
    try {
      let run = await getRun(this.client, runId, controller.signal);
      this.fillForm(run);
      if (!isFinal(run.status)) {
        this.setRunning(true);
        this.announce(`${statusLabel(run.status)}…`);
        run = await waitForRun(this.client, runId, { signal: controller.signal });
      }
      this.showRun(run);
    } catch (error) {
      if (isAbort(error)) return;
      this.announce(error instanceof ApiError && error.status === 404 ? "No such run." : "The run could not be loaded.");
      showError(this.formError, error);
    } finally {
      if (this.controller === controller) this.setRunning(false);
    }
  }

  private fillForm(run: Run): void {
    const main = run.files.find((file) => file.name === run.main_file) ?? run.files[0];
    const code =
      main === undefined
        ? ""
        : main.encoding === "utf-8"
          ? main.content
          : "// This run's source is not UTF-8 text; it cannot be shown here.";
    this.pickLanguage(run.language, code);
    this.stdin.value = run.stdin !== null && run.stdin_encoding === "utf-8" ? run.stdin : "";
    this.args.value = joinArgs(run.args);
    const language = this.languages.get(run.language);
    this.setLimitValues(language ? nonDefaultLimits(run.limits, language.default_limits) : {});
  }
}

function isAbort(error: unknown): boolean {
  return error instanceof DOMException && error.name === "AbortError";
}

/** One short sentence when a run ends (the result below says the rest). */
export function summary(run: Run): string {
  if (run.status !== "done" || run.verdict === null) return `The run ${statusLabel(run.status).toLowerCase()}.`;
  return `Finished: ${verdictLabel(run.verdict)}.`;
}
