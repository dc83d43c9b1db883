/**
 * A minimal POSIX (ustar) tar writer: regular files only, fixed mode, owner and time, so the same
 * files always make the same bytes. The browser packs a sample problem with it before uploading;
 * the server unpacks it as it would any uploaded archive.
 */

export interface TarEntry {
  /** Path inside the archive, `/`-separated, relative. */
  name: string;
  data: Uint8Array;
}

const BLOCK = 512;
const encoder = new TextEncoder();

function writeString(header: Uint8Array, offset: number, length: number, text: string): void {
  const bytes = encoder.encode(text);
  if (bytes.length > length) throw new Error(`tar: "${text}" is too long for its field`);
  header.set(bytes, offset);
}

function writeOctal(header: Uint8Array, offset: number, length: number, value: number): void {
  writeString(header, offset, length, value.toString(8).padStart(length - 1, "0") + "\0");
}

function splitName(name: string): [prefix: string, name: string] {
  if (encoder.encode(name).length <= 100) return ["", name];
  const cut = name.lastIndexOf("/", 155);
  if (cut <= 0 || encoder.encode(name.slice(cut + 1)).length > 100) throw new Error(`tar: path too long: ${name}`);
  return [name.slice(0, cut), name.slice(cut + 1)];
}

function header(entry: TarEntry): Uint8Array {
  const block = new Uint8Array(BLOCK);
  const [prefix, name] = splitName(entry.name);
  writeString(block, 0, 100, name);
  writeOctal(block, 100, 8, 0o644); // mode
  writeOctal(block, 108, 8, 0); // uid
  writeOctal(block, 116, 8, 0); // gid
  writeOctal(block, 124, 12, entry.data.length);
  writeOctal(block, 136, 12, 0); // mtime
  block.fill(0x20, 148, 156); // checksum field counts as spaces while summing
  block[156] = 0x30; // typeflag '0': regular file
  writeString(block, 257, 6, "ustar\0");
  writeString(block, 263, 2, "00");
  writeString(block, 345, 155, prefix);
  const sum = block.reduce((total, byte) => total + byte, 0);
  writeString(block, 148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  return block;
}

export function tar(entries: readonly TarEntry[]): Uint8Array {
  const size = entries.reduce((total, e) => total + BLOCK + Math.ceil(e.data.length / BLOCK) * BLOCK, 2 * BLOCK);
  const archive = new Uint8Array(size);
  let offset = 0;
  for (const entry of entries) {
    archive.set(header(entry), offset);
    archive.set(entry.data, offset + BLOCK);
    offset += BLOCK + Math.ceil(entry.data.length / BLOCK) * BLOCK;
  }
  return archive; // ends with two zero blocks (already zero)
}
