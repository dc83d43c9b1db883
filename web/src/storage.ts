/**
 * What the playground remembers in this browser: the last code typed for each language and the
 * last language picked. Storage can be missing, full or forbidden (private windows, policies):
 * then nothing is remembered and nothing fails.
 */

const PREFIX = "jaula.";

export class Memory {
  constructor(private readonly storage: Storage | null = safeLocalStorage()) {}

  code(language: string): string | null {
    return this.read(`code.${language}`);
  }

  saveCode(language: string, code: string): void {
    this.write(`code.${language}`, code);
  }

  forgetCode(language: string): void {
    try {
      this.storage?.removeItem(PREFIX + `code.${language}`);
    } catch {
      // nothing remembered, nothing to forget
    }
  }

  language(): string | null {
    return this.read("language");
  }

  saveLanguage(language: string): void {
    this.write("language", language);
  }

  private read(key: string): string | null {
    try {
      return this.storage?.getItem(PREFIX + key) ?? null;
    } catch {
      return null;
    }
  }

  private write(key: string, value: string): void {
    try {
      this.storage?.setItem(PREFIX + key, value);
    } catch {
      // quota exceeded or storage forbidden: keep working without memory
    }
  }
}

function safeLocalStorage(): Storage | null {
  try {
    return typeof localStorage === "undefined" ? null : localStorage;
  } catch {
    return null;
  }
}
