import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { renderDocs } from "../tools/docs";
import { TOUR } from "../src/tour-examples";

describe("the tour", () => {
  const docs = renderDocs(fileURLToPath(new URL("../../docs", import.meta.url)));

  it("covers every mechanism issue 6 asks for", () => {
    const ids = TOUR.map((example) => example.id);
    expect(ids).toEqual(
      expect.arrayContaining(["kernel", "processes", "network", "filesystem", "ephemeral", "memory-bomb", "fork-bomb", "privileges"]),
    );
  });

  it("explains each example in one sentence and links a section that exists", () => {
    for (const example of TOUR) {
      expect(example.explanation.trim().split(/(?<=[.!?])\s+/), example.id).toHaveLength(1);
      expect(docs["how-it-works"]!.html, example.id).toContain(`id="${example.section}"`);
      expect(example.steps.length).toBeGreaterThan(0);
    }
  });
});
