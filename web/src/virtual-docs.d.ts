declare module "virtual:doc-names" {
  const names: string[];
  export default names;
}

declare module "virtual:docs" {
  const docs: Record<string, { title: string; html: string }>;
  export default docs;
}
