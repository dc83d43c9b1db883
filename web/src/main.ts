/** The playground's entry point: load the languages, build the views, follow the address. */
import "./styles.css";
import { ApiClient } from "./api/client";
import type { Language } from "./api/types";
import { byId } from "./dom";
import { parseRoute, type Route, type View } from "./route";
import { Memory } from "./storage";
import { TOUR } from "./tour-examples";
import { DocView } from "./views/doc";
import { GradingView } from "./views/grading";
import { showError } from "./views/errors";
import { Playground } from "./views/playground";
import { renderTour } from "./views/tour";

const VIEWS: readonly View[] = ["playground", "tour", "grading", "doc"];
const TITLES: Record<View, string> = {
  playground: "Playground",
  tour: "Tour",
  grading: "Grading",
  doc: "How it works",
};

let firstRoute = true;
/** Where focus goes after the next change of view, instead of the view's heading. */
let focusAfterRoute: (() => void) | null = null;

const client = new ApiClient();
const playground = new Playground(client, new Memory());
const docView = new DocView(byId("doc"));
const grading = new GradingView(byId("grading-root"), client);

renderTour(byId("tour-list"), {
  client,
  examples: TOUR,
  openInPlayground: (language, code) => {
    playground.openProgram(language, code);
    focusAfterRoute = () => playground.focusEditor();
    window.location.hash = "";
  },
});

async function follow(route: Route): Promise<void> {
  for (const view of VIEWS) byId(`view-${view}`).hidden = view !== route.view;
  for (const link of document.querySelectorAll<HTMLAnchorElement>("nav a[data-view]")) {
    if (link.dataset["view"] === route.view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  let title = TITLES[route.view];
  let focusTarget: HTMLElement | null = byId(`${route.view}-title`, true);
  switch (route.view) {
    case "playground":
      if (route.runId) void playground.open(route.runId);
      break;
    case "grading":
      void grading.show(route.gradingId);
      break;
    case "doc":
      title = await docView.show(route.name, route.section);
      focusTarget = route.section ? null : docView.heading();
      break;
    default:
      break;
  }
  document.title = `${title} · jaula`;
  // Moving focus to the new view's heading tells keyboard and screen-reader users where they are;
  // on the first load the browser's own start is better.
  if (focusAfterRoute) focusAfterRoute();
  else if (!firstRoute) focusTarget?.focus();
  focusAfterRoute = null;
  firstRoute = false;
}

window.addEventListener("hashchange", () => void follow(parseRoute(window.location.hash)));

byId("skip-link").addEventListener("click", (event) => {
  event.preventDefault();
  byId("main").focus();
});

// Ctrl/Cmd+Enter runs from anywhere in the playground (the editor has its own binding).
byId("view-playground").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && !event.defaultPrevented) {
    event.preventDefault();
    void playground.run();
  }
});

async function start(): Promise<void> {
  try {
    const { languages } = await client.get<{ languages: Language[] }>("/v1/languages");
    playground.setLanguages(languages);
    void grading.setLanguages(languages);
  } catch (error) {
    showError(byId("form-error"), error);
  }
  await follow(parseRoute(window.location.hash));
  document.body.dataset["ready"] = "true";
}

void start();
