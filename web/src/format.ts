/** Numbers and verdicts as people read them. */
import type { Run, Status, Verdict } from "./api/types";

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = value < 10 ? 1 : 0;
  return `${value.toFixed(digits)} ${units[unit]}`;
}

export function formatMs(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

const VERDICT_LABELS: Record<Verdict | "skipped", string> = {
  ok: "OK",
  accepted: "Accepted",
  wrong_answer: "Wrong answer",
  runtime_error: "Runtime error",
  time_limit: "Time limit",
  memory_limit: "Memory limit",
  output_limit: "Output limit",
  compile_error: "Compile error",
  skipped: "Skipped",
};

export function verdictLabel(verdict: Verdict | "skipped"): string {
  return VERDICT_LABELS[verdict];
}

/** The short forms judges print in results tables. */
const VERDICT_ABBREVIATIONS: Record<Verdict | "skipped", string> = {
  ok: "OK",
  accepted: "AC",
  wrong_answer: "WA",
  runtime_error: "RE",
  time_limit: "TLE",
  memory_limit: "MLE",
  output_limit: "OLE",
  compile_error: "CE",
  skipped: "–",
};

export function verdictAbbreviation(verdict: Verdict | "skipped"): string {
  return VERDICT_ABBREVIATIONS[verdict];
}

/** A colour family for the badge; the text always says the verdict too. */
export type Tone = "good" | "bad" | "limit" | "neutral";

export function verdictTone(verdict: Verdict | "skipped"): Tone {
  switch (verdict) {
    case "skipped":
      return "neutral";
    case "ok":
    case "accepted":
      return "good";
    case "time_limit":
    case "memory_limit":
    case "output_limit":
      return "limit";
    case "runtime_error":
    case "wrong_answer":
    case "compile_error":
      return "bad";
  }
}

const STATUS_LABELS: Record<Status, string> = {
  queued: "Queued",
  running: "Running",
  done: "Done",
  failed: "Failed",
  cancelled: "Cancelled",
};

export function statusLabel(status: Status): string {
  return STATUS_LABELS[status];
}

/** "exit code 0", "signal SIGKILL", or null when the program never ran (compile error). */
export function describeEnd(run: Pick<Run, "exit_code" | "signal">): string | null {
  if (run.signal) return `signal ${run.signal}`;
  if (run.exit_code !== null) return `exit code ${run.exit_code}`;
  return null;
}
