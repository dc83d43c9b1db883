/**
 * Building DOM without innerHTML: text is always set as text, so program output and server
 * messages can never inject markup.
 */

type Attrs = Record<string, string | number | boolean | null | undefined>;
type Child = Node | string | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? "" : String(value));
  }
  append(element, ...children);
  return element;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
  }
}

export function clear(element: Element): void {
  element.replaceChildren();
}

/** The element with this id, which the page's HTML promises to have. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T;
export function byId<T extends HTMLElement = HTMLElement>(id: string, optional: true): T | null;
export function byId<T extends HTMLElement = HTMLElement>(id: string, optional = false): T | null {
  const element = document.getElementById(id);
  if (!element && !optional) throw new Error(`#${id} is missing from the page`);
  return element as T | null;
}
