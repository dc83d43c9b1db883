declare module "virtual:docs" {
  const docs: Record<string, { title: string; html: string }>;
  export default docs;
}
