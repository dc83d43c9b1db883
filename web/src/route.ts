/**
 * The page's address after `#`: which view is shown and what it shows. Everything lives in the
 * fragment, so the server serves one page and a permalink works without any server-side routing.
 *
 *   #run=<id>                      the playground, showing a run (a permalink)
 *   #tour                          the tour of what a container is
 *   #grading  or  #grading=<id>    the grading view, optionally showing one grading
 *   #doc=<name>[&section=<id>]     a page of docs/ (how-it-works by default)
 *   (anything else)                the playground
 */

export type Route =
  | { view: "playground"; runId: string | null }
  | { view: "tour" }
  | { view: "grading"; gradingId: string | null }
  | { view: "doc"; name: string; section: string | null };

export type View = Route["view"];

const ID = /^[0-9a-fA-F-]{1,64}$/;
const NAME = /^[\w-]{1,64}$/;

export function parseRoute(hash: string): Route {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  const run = params.get("run");
  if (run !== null && ID.test(run)) return { view: "playground", runId: run };
  if (params.has("tour")) return { view: "tour" };
  if (params.has("grading")) {
    const id = params.get("grading");
    return { view: "grading", gradingId: id && ID.test(id) ? id : null };
  }
  if (params.has("doc")) {
    const name = params.get("doc");
    const section = params.get("section");
    return {
      view: "doc",
      name: name && NAME.test(name) ? name : "how-it-works",
      section: section && NAME.test(section) ? section : null,
    };
  }
  return { view: "playground", runId: null };
}

export function formatRoute(route: Route): string {
  switch (route.view) {
    case "playground":
      return route.runId ? `#run=${route.runId}` : "#";
    case "tour":
      return "#tour";
    case "grading":
      return route.gradingId ? `#grading=${route.gradingId}` : "#grading";
    case "doc":
      return `#doc=${route.name}` + (route.section ? `&section=${route.section}` : "");
  }
}

/** The full address of a run, to copy and share. */
export function permalink(runId: string, location: Pick<Location, "origin" | "pathname">): string {
  return `${location.origin}${location.pathname}${formatRoute({ view: "playground", runId })}`;
}
