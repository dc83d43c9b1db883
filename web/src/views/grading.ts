/**
 * The grading view: a problem (offered by the server, or uploaded as an archive or a folder) and
 * several solutions; then the grading's progress, polled live, its results table and its CSV.
 */
import type { ApiClient } from "../api/client";
import {
  cancelGrading,
  createGrading,
  type Grading,
  type GradingCreate,
  type GradingSubmission,
  getGrading,
  gradingPath,
  listProblems,
  type ProblemSummary,
  type SubmissionCreate,
  toBase64,
} from "../api/gradings";
import { isFinal, sleep } from "../api/runs";
import type { Language } from "../api/types";
import docNames from "virtual:doc-names";
import { h } from "../dom";
import { formatBytes, formatMs, statusLabel, verdictAbbreviation, verdictLabel, verdictTone } from "../format";
import { InputError } from "../input-error";
import { languageForFile } from "../languages";
import { formatRoute } from "../route";
import { SAMPLE_PROBLEM, SAMPLE_SOLUTIONS } from "../sample-solutions";
import { tar } from "../tar";
import { showError } from "./errors";

const POLL_MS = 1000;
const ARCHIVE_TYPES = ".zip,.tar,.tgz,.tar.gz,.tar.xz,.tar.bz2";

interface Solution {
  label: string;
  language: string;
  source: string;
}

export class GradingView {
  private languages: Language[] = [];
  private problems: ProblemSummary[] = [];
  private solutions: Solution[] = [];
  private shownId: string | null = null;
  private controller: AbortController | null = null;

  private readonly problemSelect = h("select", { id: "problem-name", "aria-describedby": "problem-name-hint" });
  private readonly sampleRadio = h("input", { type: "radio", name: "problem-source", id: "problem-source-offered", value: "offered", checked: true });
  private readonly uploadRadio = h("input", { type: "radio", name: "problem-source", id: "problem-source-upload", value: "upload" });
  private readonly archiveInput = h("input", { type: "file", id: "problem-archive", accept: ARCHIVE_TYPES });
  private readonly folderInput = h("input", { type: "file", id: "problem-folder", webkitdirectory: true });
  private readonly solutionInput = h("input", { type: "file", id: "solution-files", multiple: true });
  private readonly examplesButton = h("button", { type: "button", class: "secondary", id: "add-examples" }, "Add example solutions");
  private readonly solutionRows = h("tbody");
  private readonly solutionsTable = h(
    "table",
    { class: "solutions", hidden: true },
    h("caption", { class: "visually-hidden" }, "Solutions to grade"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Label"), h("th", { scope: "col" }, "Language"), h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Remove")))),
    this.solutionRows,
  );
  private readonly stopFirst = h("input", { type: "checkbox", id: "stop-first" });
  private readonly formError = h("div", { class: "error", role: "alert", hidden: true, id: "grading-error" });
  private readonly gradeButton = h("button", { type: "submit", class: "primary", id: "grade-button" }, "Grade");
  private readonly status = h("p", { role: "status", id: "grading-status", class: "run-status" }, "Choose a problem and solutions, then Grade.");
  private readonly progress = h("progress", { id: "grading-progress", max: 1, value: 0, hidden: true, "aria-label": "Tests run" });
  private readonly actions = h("p", { class: "actions", hidden: true });
  private readonly results = h("div", { class: "table-wrap", id: "grading-results" });

  constructor(
    root: HTMLElement,
    private readonly client: ApiClient,
  ) {
    root.replaceChildren(this.render());
    this.sampleRadio.addEventListener("change", () => this.syncSource());
    this.uploadRadio.addEventListener("change", () => this.syncSource());
    this.problemSelect.addEventListener("change", () => this.syncExamples());
    for (const input of [this.archiveInput, this.folderInput]) {
      input.addEventListener("change", () => {
        if (input.files?.length) {
          (input === this.archiveInput ? this.folderInput : this.archiveInput).value = "";
          this.uploadRadio.checked = true;
          this.syncSource();
        }
      });
    }
    this.solutionInput.addEventListener("change", () => void this.addFiles());
    this.examplesButton.addEventListener("click", () => {
      this.solutions.push(...SAMPLE_SOLUTIONS.map((s) => ({ ...s })));
      this.renderSolutions();
    });
    this.syncSource();
  }

  private render(): HTMLElement {
    const form = h(
      "form",
      { class: "panel", id: "grading-form", novalidate: true, "aria-labelledby": "grading-form-title" },
      h("h2", { id: "grading-form-title" }, "New grading"),
      h(
        "fieldset",
        {},
        h("legend", {}, "Problem"),
        h("div", { class: "choice" }, this.sampleRadio, h("label", { for: "problem-source-offered" }, "A problem this server offers")),
        h("div", { class: "indent" }, h("label", { for: "problem-name", class: "visually-hidden" }, "Offered problem"), this.problemSelect, h("p", { class: "hint", id: "problem-name-hint" })),
        h("div", { class: "choice" }, this.uploadRadio, h("label", { for: "problem-source-upload" }, "Upload a problem")),
        h(
          "div",
          { class: "indent" },
          h("label", { for: "problem-archive" }, "Archive (.zip or .tar, optionally compressed)"),
          this.archiveInput,
          h("label", { for: "problem-folder" }, "or a folder"),
          this.folderInput,
          h(
            "p",
            { class: "hint" },
            "problem.toml, and tests/NAME.in with NAME.out",
            ...(docNames.includes("grading")
              ? ["; see ", h("a", { href: formatRoute({ view: "doc", name: "grading", section: null }) }, "the problem format"), "."]
              : ["."]),
          ),
        ),
      ),
      h(
        "fieldset",
        {},
        h("legend", {}, "Solutions"),
        h("label", { for: "solution-files" }, "Solution files"),
        this.solutionInput,
        h("p", { class: "hint" }, "Each file's extension gives its language and its name the label; change either below."),
        this.examplesButton,
        this.solutionsTable,
      ),
      h("div", { class: "choice" }, this.stopFirst, h("label", { for: "stop-first" }, "Stop each solution at its first failed test")),
      this.formError,
      h("div", { class: "actions" }, this.gradeButton),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.submit();
    });
    return h(
      "div",
      { class: "grading-grid" },
      form,
      h("section", { class: "panel", "aria-labelledby": "grading-results-title" }, h("h2", { id: "grading-results-title" }, "Results"), this.status, this.progress, this.actions, this.results),
    );
  }

  /** Called once the languages are known; loads the offered problems. */
  async setLanguages(languages: Language[]): Promise<void> {
    this.languages = languages;
    try {
      this.problems = await listProblems(this.client);
    } catch (error) {
      showError(this.formError, error);
      this.problems = [];
    }
    this.problemSelect.replaceChildren(
      ...this.problems.map((p) => h("option", { value: p.name }, `${p.title} (${p.name})`)),
    );
    if (this.problems.some((p) => p.name === SAMPLE_PROBLEM)) this.problemSelect.value = SAMPLE_PROBLEM;
    if (this.problems.length === 0) {
      this.sampleRadio.disabled = true;
      this.uploadRadio.checked = true;
    }
    this.syncSource();
  }

  private syncSource(): void {
    const offered = this.sampleRadio.checked;
    this.problemSelect.disabled = !offered;
    this.syncExamples();
  }

  private syncExamples(): void {
    const problem = this.problems.find((p) => p.name === this.problemSelect.value);
    const hint = this.problemSelect.nextElementSibling;
    if (hint) hint.textContent = problem ? `${problem.tests} tests, ${problem.max_score} points, checker: ${problem.checker}` : "";
    // The example solutions solve A + B: offer them only with that problem.
    this.examplesButton.hidden = !(this.sampleRadio.checked && problem?.name === SAMPLE_PROBLEM);
    if (!this.examplesButton.hidden) this.examplesButton.textContent = `Add example solutions for ${problem?.title ?? "A + B"}`;
  }

  private async addFiles(): Promise<void> {
    const files = Array.from(this.solutionInput.files ?? []);
    for (const file of files) {
      const language = languageForFile(file.name, this.languages);
      this.solutions.push({ label: file.name, language: language?.name ?? "", source: await file.text() });
    }
    this.solutionInput.value = "";
    this.renderSolutions();
  }

  private renderSolutions(): void {
    this.solutionsTable.hidden = this.solutions.length === 0;
    this.solutionRows.replaceChildren(
      ...this.solutions.map((solution, index) => {
        const labelInput = h("input", { type: "text", value: solution.label, "aria-label": `Label of solution ${index + 1}` });
        labelInput.addEventListener("input", () => (solution.label = labelInput.value));
        const select = h(
          "select",
          { "aria-label": `Language of ${solution.label}` },
          h("option", { value: "" }, "(choose)"),
          ...this.languages.map((l) => h("option", { value: l.name }, l.display_name)),
        );
        select.value = solution.language;
        select.addEventListener("change", () => (solution.language = select.value));
        const remove = h("button", { type: "button", class: "secondary small", "aria-label": `Remove ${solution.label}` }, "Remove");
        remove.addEventListener("click", () => {
          this.solutions.splice(index, 1);
          this.renderSolutions();
        });
        return h("tr", {}, h("td", {}, labelInput), h("td", {}, select), h("td", {}, remove));
      }),
    );
  }

  // --- Submitting -----------------------------------------------------------------------------

  private async problemField(): Promise<GradingCreate["problem"]> {
    if (this.sampleRadio.checked) {
      if (!this.problemSelect.value) throw new InputError("Problem: choose one of the offered problems, or upload one.");
      return { name: this.problemSelect.value };
    }
    const archive = this.archiveInput.files?.[0];
    if (archive) return { archive: toBase64(new Uint8Array(await archive.arrayBuffer())) };
    const folder = Array.from(this.folderInput.files ?? []);
    if (folder.length > 0) {
      const entries = await Promise.all(
        folder.map(async (file) => ({ name: file.webkitRelativePath || file.name, data: new Uint8Array(await file.arrayBuffer()) })),
      );
      return { archive: toBase64(tar(entries)) };
    }
    throw new InputError("Problem: choose an archive or a folder to upload.");
  }

  private submissions(): SubmissionCreate[] {
    if (this.solutions.length === 0) throw new InputError("Solutions: add at least one solution file.");
    return this.solutions.map((solution, index) => {
      if (!solution.language) {
        throw new InputError(`Solutions: choose the language of “${solution.label || `solution ${index + 1}`}”.`);
      }
      const submission: SubmissionCreate = { language: solution.language, source: solution.source };
      if (solution.label.trim()) submission.label = solution.label.trim();
      return submission;
    });
  }

  private async submit(): Promise<void> {
    showError(this.formError, null);
    this.gradeButton.disabled = true;
    try {
      const body: GradingCreate = {
        problem: await this.problemField(),
        submissions: this.submissions(),
        stop_on_first_failure: this.stopFirst.checked,
      };
      this.status.textContent = "Sending…";
      const accepted = await createGrading(this.client, body);
      history.replaceState(null, "", formatRoute({ view: "grading", gradingId: accepted.id }));
      void this.show(accepted.id);
    } catch (error) {
      this.status.textContent = "The grading was not started.";
      showError(this.formError, error);
    } finally {
      this.gradeButton.disabled = false;
    }
  }

  // --- Following a grading --------------------------------------------------------------------------

  /** Show a grading and follow it until it ends (or the view shows another one). */
  async show(id: string | null): Promise<void> {
    if (id === null || id === this.shownId) return;
    this.controller?.abort();
    const controller = (this.controller = new AbortController());
    this.shownId = id;
    this.results.replaceChildren();
    this.status.textContent = "Loading the grading…";
    try {
      for (;;) {
        const grading = await getGrading(this.client, id, controller.signal);
        this.renderGrading(grading);
        if (isFinal(grading.status)) return;
        await sleep(POLL_MS, controller.signal);
      }
    } catch (error) {
      if (error instanceof DOMException && error.name === "AbortError") return;
      this.status.textContent = "The grading could not be loaded.";
      this.shownId = null;
      showError(this.formError, error);
    }
  }

  private renderGrading(grading: Grading): void {
    const { progress } = grading;
    this.progress.hidden = false;
    this.progress.max = Math.max(1, progress.tests);
    this.progress.value = progress.tests_finished;
    this.progress.setAttribute("aria-valuetext", `${progress.tests_finished} of ${progress.tests} tests`);
    const text =
      `${grading.problem.title}: ${statusLabel(grading.status)} — ` +
      `${progress.submissions_finished} of ${progress.submissions} solutions, ${progress.tests_finished} of ${progress.tests} tests.`;
    // A live region speaks on every change: change it only when there is news.
    if (this.status.textContent !== text) this.status.textContent = text;
    this.status.dataset["status"] = grading.status;
    this.renderActions(grading);
    // Keep open what the reader opened while the table is refreshed.
    const open = new Set(
      Array.from(this.results.querySelectorAll<HTMLElement>("tr[data-label]:has(details[open])"), (row) => row.dataset["label"]),
    );
    this.results.replaceChildren(resultsTable(grading));
    for (const row of this.results.querySelectorAll<HTMLElement>("tr[data-label]")) {
      if (open.has(row.dataset["label"])) row.querySelector("details")?.setAttribute("open", "");
    }
  }

  private renderActions(grading: Grading): void {
    // Rebuilt only when they change, so that focus on Cancel survives the polling.
    const key = `${grading.id}:${isFinal(grading.status)}`;
    if (this.actions.dataset["key"] === key) return;
    this.actions.dataset["key"] = key;
    const path = gradingPath(grading.id);
    const csv = h("a", { href: `${path}/report.csv`, download: `grading-${grading.id}.csv`, id: "grading-csv" }, "Download CSV");
    const json = h("a", { href: `${path}/report.json`, download: `grading-${grading.id}.json` }, "JSON");
    const nodes: (Node | string)[] = [csv, " · ", json];
    if (!isFinal(grading.status)) {
      const cancel = h("button", { type: "button", class: "secondary small", id: "grading-cancel" }, "Cancel");
      cancel.addEventListener("click", async () => {
        cancel.disabled = true;
        try {
          this.renderGrading(await cancelGrading(this.client, grading.id));
        } catch (error) {
          showError(this.formError, error);
        }
      });
      nodes.push(" ", cancel);
    }
    this.actions.replaceChildren(...nodes);
    this.actions.hidden = false;
  }
}

function badgeFor(submission: GradingSubmission): HTMLElement {
  if (submission.verdict && submission.status !== "failed") {
    return h("span", { class: `badge tone-${verdictTone(submission.verdict)}`, "data-verdict": submission.verdict }, verdictLabel(submission.verdict));
  }
  const tone = submission.status === "failed" ? "bad" : "neutral";
  return h("span", { class: `badge tone-${tone}`, "data-status": submission.status }, statusLabel(submission.status));
}

function maxOf(values: (number | null)[]): number | null {
  const known = values.filter((v): v is number => v !== null);
  return known.length ? Math.max(...known) : null;
}

function resultsTable(grading: Grading): HTMLElement {
  const tests = grading.problem.tests;
  const head = h(
    "tr",
    {},
    h("th", { scope: "col" }, "Solution"),
    h("th", { scope: "col" }, "Language"),
    h("th", { scope: "col" }, "Result"),
    h("th", { scope: "col" }, "Score"),
    h("th", { scope: "col" }, "Max CPU"),
    h("th", { scope: "col" }, "Max memory"),
    ...tests.map((name) => h("th", { scope: "col", class: "test-col" }, name)),
  );
  const rows = grading.submissions.map((submission) => {
    const cpu = maxOf(submission.tests.map((t) => t.cpu_time_ms));
    const memory = maxOf(submission.tests.map((t) => t.memory_peak_bytes));
    const details = submission.compile_output || submission.message;
    return h(
      "tr",
      { "data-label": submission.label, "data-status": submission.status },
      h(
        "th",
        { scope: "row" },
        submission.label,
        details
          ? h("details", {}, h("summary", {}, "Details"), h("pre", {}, [submission.message, submission.compile_output].filter(Boolean).join("\n\n")))
          : null,
      ),
      h("td", {}, submission.language),
      h("td", {}, badgeFor(submission)),
      h("td", { class: "score" }, submission.score === null ? "—" : `${submission.score} / ${submission.max_score}`),
      h("td", {}, cpu === null ? "—" : formatMs(cpu)),
      h("td", {}, memory === null ? "—" : formatBytes(memory)),
      ...submission.tests.map((test) =>
        test.verdict === null
          ? h("td", { class: "test pending", "data-test": test.name }, h("span", { "aria-label": "not run yet" }, "·"))
          : h(
              "td",
              { class: `test tone-${verdictTone(test.verdict)}`, "data-test": test.name, "data-verdict": test.verdict, title: test.message ?? verdictLabel(test.verdict) },
              h("abbr", { title: verdictLabel(test.verdict) }, verdictAbbreviation(test.verdict)),
            ),
      ),
    );
  });
  return h(
    "table",
    { class: "results", id: "grading-table" },
    h("caption", {}, `${grading.problem.title}: results by solution and test`),
    h("thead", {}, head),
    h("tbody", {}, ...rows),
  );
}
