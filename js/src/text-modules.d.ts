// Bundles esbuild inlines as text (--loader:.txt=text): the hash worker's source.
declare module "*.txt" {
  const text: string;
  export default text;
}
