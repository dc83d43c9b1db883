/** Batch grading (/v1/gradings) and the problems the server offers (/v1/problems). */
import type { ApiClient } from "./client";
import type { Status } from "./types";

export type TestVerdict =
  | "accepted"
  | "wrong_answer"
  | "time_limit"
  | "memory_limit"
  | "runtime_error"
  | "output_limit"
  | "compile_error"
  | "skipped";

export interface ProblemSummary {
  name: string;
  title: string;
  checker: string;
  tests: number;
  max_score: number;
}

export interface SubmissionCreate {
  language: string;
  source: string;
  label?: string;
}

export interface GradingCreate {
  problem: { name: string } | { archive: string };
  submissions: SubmissionCreate[];
  stop_on_first_failure?: boolean;
}

export interface GradingAccepted {
  id: string;
  status: Status;
}

export interface GradingTest {
  name: string;
  verdict: TestVerdict | null;
  cpu_time_ms: number | null;
  wall_time_ms: number | null;
  memory_peak_bytes: number | null;
  message: string | null;
}

export interface GradingSubmission {
  id: string;
  label: string;
  language: string;
  status: Status;
  verdict: TestVerdict | null;
  score: number | null;
  max_score: number;
  tests: GradingTest[];
  compile_output: string | null;
  message: string | null;
}

export interface Grading {
  id: string;
  status: Status;
  problem: { name: string; title: string; tests: string[]; max_score: number; checker: string };
  progress: { submissions: number; submissions_finished: number; tests: number; tests_finished: number };
  submissions: GradingSubmission[];
}

export const gradingPath = (id: string): string => `/v1/gradings/${encodeURIComponent(id)}`;

export async function listProblems(client: ApiClient): Promise<ProblemSummary[]> {
  return (await client.get<{ problems: ProblemSummary[] }>("/v1/problems")).problems;
}

export async function createGrading(client: ApiClient, body: GradingCreate): Promise<GradingAccepted> {
  return (await client.post<GradingAccepted>("/v1/gradings", body)).body;
}

export function getGrading(client: ApiClient, id: string, signal?: AbortSignal): Promise<Grading> {
  return client.get<Grading>(gradingPath(id), signal);
}

export async function cancelGrading(client: ApiClient, id: string): Promise<Grading> {
  return (await client.request<Grading>("DELETE", gradingPath(id))).body;
}

/** Bytes as base64, for the archive field (btoa needs a binary string, built in chunks). */
export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}
