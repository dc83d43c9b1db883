/** The API's JSON, as the server's OpenAPI schema (/openapi.json) describes it. */

export type Encoding = "utf-8" | "base64";
export type Status = "queued" | "running" | "done" | "failed" | "cancelled";
export type Verdict =
  | "ok"
  | "runtime_error"
  | "time_limit"
  | "memory_limit"
  | "output_limit"
  | "compile_error"
  | "accepted"
  | "wrong_answer";

export const FINAL_STATUSES: ReadonlySet<Status> = new Set(["done", "failed", "cancelled"]);

export interface Limits {
  cpu_time_limit_s: number;
  wall_time_limit_s: number;
  memory_limit_mb: number;
  pids_limit: number;
  output_limit_kb: number;
  file_size_limit_kb: number;
  network: boolean;
}

export type LimitName = Exclude<keyof Limits, "network">;

export interface Language {
  name: string;
  display_name: string;
  aliases: string[];
  extensions: string[];
  version: string | null;
  source_file: string;
  hello_world: string;
  compile_command: string[] | null;
  run_command: string[];
  compiler_options_allowed: string[];
  default_limits: Limits;
}

export interface RunFile {
  name: string;
  content: string;
  encoding: Encoding;
}

export interface Run {
  id: string;
  status: Status;
  language: string;
  limits: Limits;
  files: RunFile[];
  main_file: string;
  stdin: string | null;
  stdin_encoding: Encoding | null;
  args: string[];
  compiler_options: string[];
  verdict: Verdict | null;
  exit_code: number | null;
  signal: string | null;
  cpu_time_ms: number | null;
  wall_time_ms: number | null;
  memory_peak_bytes: number | null;
  stdout: string | null;
  stdout_encoding: Encoding | null;
  stdout_truncated: boolean | null;
  stderr: string | null;
  stderr_encoding: Encoding | null;
  stderr_truncated: boolean | null;
  compile_output: string | null;
  compile_output_encoding: Encoding | null;
  message: string | null;
  queued_at: string;
  started_at: string | null;
  finished_at: string | null;
}

export interface RunAccepted {
  id: string;
  status: Status;
}

export interface RunCreate {
  language: string;
  source: string;
  stdin?: string;
  args?: string[];
  limits?: Partial<Limits>;
}

export interface ErrorBody {
  detail: string;
  errors?: string[];
}
