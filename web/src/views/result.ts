/** A finished (or failed) run, as the page shows it: verdict badge, figures, outputs. */
import type { Encoding, Run } from "../api/types";
import { h } from "../dom";
import { describeEnd, formatBytes, formatMs, statusLabel, verdictLabel, verdictTone } from "../format";

export function badge(run: Pick<Run, "status" | "verdict">): HTMLElement {
  if (run.status === "done" && run.verdict !== null) {
    return h(
      "span",
      { class: `badge tone-${verdictTone(run.verdict)}`, "data-verdict": run.verdict },
      verdictLabel(run.verdict),
    );
  }
  const tone = run.status === "failed" ? "bad" : "neutral";
  return h("span", { class: `badge tone-${tone}`, "data-status": run.status }, statusLabel(run.status));
}

function metric(label: string, value: string | null): HTMLElement {
  return h("div", { class: "metric" }, h("dt", {}, label), h("dd", {}, value ?? "—"));
}

let outputCount = 0;

function output(
  title: string,
  name: string,
  text: string | null,
  encoding: Encoding | null,
  truncatedAt: number | null,
): HTMLElement | null {
  if (text === null) return null;
  const notes: Node[] = [];
  if (truncatedAt !== null) {
    notes.push(h("span", { class: "tag tag-warn", "data-truncated": "" }, `truncated at ${formatBytes(truncatedAt)}`));
  }
  if (encoding === "base64") notes.push(h("span", { class: "tag" }, "not UTF-8: shown base64-encoded"));
  const id = `output-${++outputCount}`;
  return h(
    "section",
    { class: `output output-${name}`, "aria-labelledby": id },
    h("h3", { id }, title, ...notes),
    text === ""
      ? h("p", { class: "empty" }, "(empty)")
      : h("pre", { tabindex: 0, "aria-labelledby": id, "data-output": name }, text),
  );
}

/** The whole result; `compact` leaves out what the tour does not need (empty outputs). */
export function renderResult(run: Run, options: { compact?: boolean } = {}): HTMLElement {
  const compact = options.compact ?? false;
  const limitBytes = run.limits.output_limit_kb * 1024;
  const head = h("div", { class: "result-head" }, badge(run), run.message ? h("p", { class: "message" }, run.message) : null);
  const finished = run.status === "done";
  const figures = finished
    ? h(
        "dl",
        { class: "metrics" },
        // With a compile error the program never ran: the figures are the compiler's.
        metric(run.verdict === "compile_error" ? "Compiler ended with" : "Ended with", describeEnd(run)),
        metric("CPU time", run.cpu_time_ms === null ? null : formatMs(run.cpu_time_ms)),
        metric("Wall time", run.wall_time_ms === null ? null : formatMs(run.wall_time_ms)),
        metric("Peak memory", run.memory_peak_bytes === null ? null : formatBytes(run.memory_peak_bytes)),
      )
    : null;
  const compileOutput = run.compile_output ? run.compile_output : null;
  const stderr = compact && !run.stderr ? null : run.stderr;
  return h(
    "div",
    { class: "result-body", "data-run-id": run.id, "data-status": run.status },
    head,
    figures,
    output("Compiler output", "compile", compileOutput, run.compile_output_encoding, null),
    output("Standard output", "stdout", run.stdout, run.stdout_encoding, run.stdout_truncated ? limitBytes : null),
    output("Standard error", "stderr", stderr, run.stderr_encoding, run.stderr_truncated ? limitBytes : null),
  );
}
