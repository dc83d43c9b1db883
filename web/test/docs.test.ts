import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { renderDoc, renderDocs, rewriteHref, slugify } from "../tools/docs";

const known = new Set(["how-it-works", "sandbox", "images"]);

describe("docs rendered for the playground", () => {
  it("turns links between docs into playground routes", () => {
    expect(rewriteHref("sandbox.md", known, "how-it-works")).toBe("#doc=sandbox");
    expect(rewriteHref("./images.md#union-mounts", known, "how-it-works")).toBe("#doc=images&section=union-mounts");
    expect(rewriteHref("#cgroups", known, "how-it-works")).toBe("#doc=how-it-works&section=cgroups");
  });

  it("keeps absolute and server links, and unlinks what the server does not publish", () => {
    expect(rewriteHref("https://kernel.org/", known, "x")).toBe("https://kernel.org/");
    expect(rewriteHref("/#tour", known, "x")).toBe("/#tour");
    expect(rewriteHref("../sandbox/container.py", known, "x")).toBeNull();
    expect(rewriteHref("missing.md", known, "x")).toBeNull();
  });

  it("gives headings the ids GitHub would", () => {
    expect(slugify("Compile once, run many")).toBe("compile-once-run-many");
    expect(slugify("cgroup v1 and v2")).toBe("cgroup-v1-and-v2");
  });

  it("renders a page with its title, heading ids and rewritten links", () => {
    const doc = renderDoc("# Title\n\n## A section\n\nSee [it](sandbox.md) and [code](../x.py).\n", "how-it-works", known);
    expect(doc.title).toBe("Title");
    expect(doc.html).toContain('<h2 id="a-section">A section</h2>');
    expect(doc.html).toContain('<a href="#doc=sandbox">it</a>');
    expect(doc.html).toContain('<span class="doc-unlinked">code</span>');
  });

  it("links every tour section and every doc link in how-it-works to something that exists", () => {
    const docs = renderDocs(fileURLToPath(new URL("../../docs", import.meta.url)));
    const page = docs["how-it-works"];
    expect(page).toBeDefined();
    for (const [, name, section] of page!.html.matchAll(/href="#doc=([\w-]+)(?:&amp;section=([\w-]+))?"/g)) {
      expect(docs[name!], `link to ${name}`).toBeDefined();
      if (section) expect(docs[name!]!.html, `section ${name}#${section}`).toContain(`id="${section}"`);
    }
  });
});
