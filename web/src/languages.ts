/** Finding a catalogue language from a file name, as the server's catalogue does. */
import type { Language } from "./api/types";

export function languageForFile(fileName: string, languages: readonly Language[]): Language | null {
  const dot = fileName.lastIndexOf(".");
  if (dot <= 0) return null;
  const extension = fileName.slice(dot).toLowerCase();
  return languages.find((language) => language.extensions.includes(extension)) ?? null;
}
