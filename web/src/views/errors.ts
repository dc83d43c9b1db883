/** A failed request explained in the page: what happened, what to change, when to retry. */
import { ApiError } from "../api/client";
import { h } from "../dom";
import { InputError } from "../input-error";

function lead(error: ApiError): string {
  switch (error.status) {
    case 0:
      return "No connection.";
    case 401:
      return "Not allowed.";
    case 404:
      return "Not found.";
    case 413:
      return "Too big for this server.";
    case 422:
      return "The server refused this request.";
    case 429:
      return "Too many runs for now.";
    case 503:
      return "The server is busy.";
    default:
      return error.status >= 500 ? "The server failed." : "The request failed.";
  }
}

/** The parts of an error message, as nodes to put in an alert. */
export function describeError(error: unknown): Node[] {
  if (error instanceof InputError) return [h("p", {}, error.message)];
  if (!(error instanceof ApiError)) {
    const text = error instanceof Error ? error.message : String(error);
    return [h("p", {}, `Something went wrong in the page: ${text}`)];
  }
  const nodes: Node[] = [h("p", {}, h("strong", {}, lead(error)), " ", error.detail)];
  const extra = error.errors.filter((line) => !error.detail.includes(line));
  if (extra.length > 0) nodes.push(h("ul", {}, ...extra.map((line) => h("li", {}, line))));
  if (error.retryAfterS !== null) {
    const s = error.retryAfterS;
    nodes.push(h("p", { class: "retry" }, `Try again in ${s} second${s === 1 ? "" : "s"} (Retry-After: ${s}).`));
  }
  return nodes;
}

/** Show an error in an alert region (or hide the region when error is null). */
export function showError(region: HTMLElement, error: unknown | null): void {
  if (error === null) {
    region.hidden = true;
    region.replaceChildren();
    return;
  }
  region.replaceChildren(...describeError(error));
  region.hidden = false;
}
