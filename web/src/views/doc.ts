/** Pages of docs/, rendered to HTML at build time (tools/docs.ts) and loaded on first visit. */
import { h } from "../dom";

type Docs = Record<string, { title: string; html: string }>;

let docs: Promise<Docs> | null = null;

function loadDocs(): Promise<Docs> {
  docs ??= import("virtual:docs").then((module) => module.default);
  return docs;
}

export class DocView {
  private shown: string | null = null;

  constructor(private readonly article: HTMLElement) {}

  /** Show a page (and scroll to a section of it); returns the page's title. */
  async show(name: string, section: string | null): Promise<string> {
    if (this.shown !== name) {
      let all: Docs;
      try {
        all = await loadDocs();
      } catch {
        docs = null; // try again next time
        this.article.replaceChildren(h("p", { role: "alert" }, "The documentation could not be loaded; reload the page."));
        return "Documentation";
      }
      // Own pages only: "constructor" or "toString" must not find the object's inherited ones.
      const doc = Object.prototype.hasOwnProperty.call(all, name) ? all[name] : undefined;
      if (!doc) {
        this.article.replaceChildren(
          h("h1", { tabindex: -1 }, "No such page"),
          h("p", {}, `There is no page called “${name}”. `, h("a", { href: "#doc=how-it-works" }, "How it works"), " is a good start."),
        );
        this.shown = null;
        return "No such page";
      }
      // Trusted HTML: rendered at build time from the repository's own Markdown.
      this.article.innerHTML = doc.html;
      this.article.querySelector("h1")?.setAttribute("tabindex", "-1");
      this.shown = name;
    }
    const target = section ? this.article.querySelector<HTMLElement>(`[id="${CSS.escape(section)}"]`) : null;
    if (target) {
      target.setAttribute("tabindex", "-1");
      target.scrollIntoView();
      target.focus({ preventScroll: true });
    }
    return this.article.querySelector("h1")?.textContent ?? "Documentation";
  }

  /** The element to focus when the page is opened. */
  heading(): HTMLElement | null {
    return this.article.querySelector("h1");
  }
}
