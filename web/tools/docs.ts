/**
 * A Vite plugin that renders the repository's docs/*.md to HTML at build time and offers them as
 * the virtual module `virtual:docs`, so the playground can show "How it works" (and the pages it
 * links to) offline, with no Markdown renderer shipped to the browser.
 *
 * Links between docs (`sandbox.md#cgroups`) become playground routes (`#doc=sandbox&section=cgroups`)
 * and headings get ids (their slugs) for those sections to scroll to;
 * links to anything else in the repository, which the server does not publish, are kept as
 * plain text so that no link in the page leads nowhere.
 */
import { readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { Marked, type Tokens } from "marked";
import type { Plugin } from "vite";

export interface RenderedDoc {
  title: string;
  html: string;
}

const VIRTUAL_ID = "virtual:docs";
const RESOLVED_ID = "\0" + VIRTUAL_ID;
/** Only the names of the pages, small enough for the main bundle (to link only what exists). */
const NAMES_ID = "virtual:doc-names";
const RESOLVED_NAMES_ID = "\0" + NAMES_ID;

export function slugify(text: string): string {
  return text
    .toLowerCase()
    .replace(/<[^>]*>/g, "")
    .replace(/[^\p{Letter}\p{Number}\s-]/gu, "")
    .trim()
    .replace(/\s+/g, "-");
}

/** Where a link in a doc should lead in the playground, or null to show it as plain text. */
export function rewriteHref(href: string, known: ReadonlySet<string>, current: string): string | null {
  if (/^[a-z][a-z0-9+.-]*:/i.test(href)) return href; // absolute URL (https:, mailto:)
  if (href.startsWith("#")) return href.length > 1 ? `#doc=${current}&section=${href.slice(1)}` : null;
  if (href.startsWith("/")) return href; // a path the server itself serves, e.g. /docs
  const [path = "", fragment] = href.split("#", 2);
  const match = /^(?:\.\/)?([\w-]+)\.md$/.exec(path);
  if (match?.[1] === undefined || !known.has(match[1])) return null;
  return `#doc=${match[1]}` + (fragment ? `&section=${fragment}` : "");
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function renderDoc(markdown: string, name: string, known: ReadonlySet<string>): RenderedDoc {
  let title = "";
  const marked = new Marked({
    gfm: true,
    renderer: {
      heading(this: { parser: { parseInline(tokens: Tokens.Generic[]): string } }, token: Tokens.Heading) {
        const inner = this.parser.parseInline(token.tokens);
        if (token.depth === 1 && !title) title = token.text;
        return `<h${token.depth} id="${slugify(token.text)}">${inner}</h${token.depth}>\n`;
      },
      link(this: { parser: { parseInline(tokens: Tokens.Generic[]): string } }, token: Tokens.Link) {
        const inner = this.parser.parseInline(token.tokens);
        const href = rewriteHref(token.href, known, name);
        if (href === null) return `<span class="doc-unlinked">${inner}</span>`;
        return `<a href="${escapeHtml(href)}">${inner}</a>`;
      },
      image(token: Tokens.Image) {
        return `<span class="doc-unlinked">[${escapeHtml(token.text)}]</span>`;
      },
    },
  });
  const html = marked.parse(markdown, { async: false });
  return { title: title || "Documentation", html };
}

export function docNames(directory: string): string[] {
  return readdirSync(directory)
    .filter((file) => file.endsWith(".md"))
    .map((file) => basename(file, ".md"))
    .sort();
}

export function renderDocs(directory: string): Record<string, RenderedDoc> {
  const names = docNames(directory);
  const known = new Set(names);
  const docs: Record<string, RenderedDoc> = {};
  for (const name of names.sort()) {
    docs[name] = renderDoc(readFileSync(join(directory, `${name}.md`), "utf-8"), name, known);
  }
  return docs;
}

export function docsPlugin(directory: string): Plugin {
  return {
    name: "jaula-docs",
    resolveId(id) {
      if (id === VIRTUAL_ID) return RESOLVED_ID;
      return id === NAMES_ID ? RESOLVED_NAMES_ID : null;
    },
    load(id) {
      if (id === RESOLVED_NAMES_ID) return `export default ${JSON.stringify(docNames(directory))};`;
      if (id !== RESOLVED_ID) return null;
      for (const file of readdirSync(directory)) this.addWatchFile(join(directory, file));
      return `export default ${JSON.stringify(renderDocs(directory))};`;
    },
  };
}
