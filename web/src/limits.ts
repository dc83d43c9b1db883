/** The limits a run may set, how the form shows them, and reading them back from the form. */
import type { LimitName, Limits } from "./api/types";
import { InputError } from "./input-error";

export interface LimitField {
  name: LimitName;
  label: string;
  unit: string;
  step: number;
  min: number;
  integer: boolean;
}

export const LIMIT_FIELDS: readonly LimitField[] = [
  { name: "cpu_time_limit_s", label: "CPU time", unit: "s", step: 0.1, min: 0.1, integer: false },
  { name: "wall_time_limit_s", label: "Wall time", unit: "s", step: 0.1, min: 0.1, integer: false },
  { name: "memory_limit_mb", label: "Memory", unit: "MiB", step: 1, min: 4, integer: true },
  { name: "pids_limit", label: "Processes", unit: "", step: 1, min: 2, integer: true },
  { name: "output_limit_kb", label: "Output", unit: "KiB", step: 1, min: 1, integer: true },
];

export class LimitsError extends InputError {}

/** The limits typed in (empty fields are left out, so the language's defaults apply). */
export function readLimits(values: Partial<Record<LimitName, string>>): Partial<Limits> {
  const limits: Partial<Limits> = {};
  for (const field of LIMIT_FIELDS) {
    const text = (values[field.name] ?? "").trim();
    if (text === "") continue;
    const value = Number(text);
    if (!Number.isFinite(value) || value < field.min || (field.integer && !Number.isInteger(value))) {
      const kind = field.integer ? "a whole number" : "a number";
      throw new LimitsError(`Limits: ${field.label} must be ${kind} of at least ${field.min}${field.unit ? " " + field.unit : ""}.`);
    }
    limits[field.name] = value;
  }
  return limits;
}

/** The limits of a run that differ from its language's defaults (to fill the form from a permalink). */
export function nonDefaultLimits(run: Limits, defaults: Limits): Partial<Record<LimitName, string>> {
  const values: Partial<Record<LimitName, string>> = {};
  for (const field of LIMIT_FIELDS) {
    if (run[field.name] !== defaults[field.name]) values[field.name] = String(run[field.name]);
  }
  return values;
}
