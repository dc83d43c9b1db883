/** The tour panel: each example with its sentence, its code, a Run button and its result. */
import type { ApiClient } from "../api/client";
import { runProgram } from "../api/runs";
import { h } from "../dom";
import { formatRoute } from "../route";
import type { TourExample, TourStep } from "../tour-examples";
import { showError } from "./errors";
import { renderResult } from "./result";

export interface TourOptions {
  client: ApiClient;
  examples: readonly TourExample[];
  /** Open an example in the playground's editor. */
  openInPlayground: (language: string, code: string) => void;
}

export function renderTour(list: HTMLElement, options: TourOptions): void {
  list.replaceChildren(...options.examples.map((example) => renderExample(example, options)));
}

function renderExample(example: TourExample, options: TourOptions): HTMLElement {
  const titleId = `tour-${example.id}-title`;
  return h(
    "li",
    { class: "tour-card", id: `tour-${example.id}`, "data-example": example.id },
    h(
      "article",
      { "aria-labelledby": titleId },
      h("h2", { id: titleId }, example.title),
      h("p", { class: "explanation" }, example.explanation),
      h(
        "p",
        { class: "mechanism" },
        "Shows: ",
        h("a", { href: formatRoute({ view: "doc", name: "how-it-works", section: example.section }) }, example.mechanism),
      ),
      ...example.steps.map((step, index) => renderStep(example, step, index, options)),
    ),
  );
}

function renderStep(example: TourExample, step: TourStep, index: number, options: TourOptions): HTMLElement {
  const stepId = `tour-${example.id}-${index}`;
  const runButton = h("button", { type: "button", class: "primary", "data-step": index }, step.label);
  const openButton = h("button", { type: "button", class: "secondary" }, "Edit in playground");
  const error = h("div", { class: "error", role: "alert", hidden: true });
  const status = h("p", { class: "visually-hidden", role: "status" });
  const result = h("div", { class: "tour-result", id: `${stepId}-result` });

  runButton.addEventListener("click", async () => {
    runButton.disabled = true;
    const label = runButton.textContent;
    runButton.textContent = "Running…";
    showError(error, null);
    result.setAttribute("aria-busy", "true");
    try {
      const run = await runProgram(options.client, { language: example.language, source: step.code });
      result.replaceChildren(renderResult(run, { compact: true }));
      status.textContent = `${example.title}: finished.`;
    } catch (failure) {
      showError(error, failure);
    } finally {
      result.setAttribute("aria-busy", "false");
      runButton.textContent = label;
      runButton.disabled = false;
    }
  });
  openButton.addEventListener("click", () => options.openInPlayground(example.language, step.code));

  return h(
    "div",
    { class: "tour-step", id: stepId },
    h("pre", { class: "tour-code", tabindex: 0, "aria-label": `${example.title}: ${step.label}, code` }, step.code),
    h("div", { class: "actions" }, runButton, openButton),
    status,
    error,
    result,
  );
}
