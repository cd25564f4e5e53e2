/**
 * Pre-flight check of an LMDB data file. lmdb-js 3.5 crashes the process (SIGSEGV) when asked to
 * open a data.mdb whose meta pages are not LMDB's, so before handing a path to it we read both meta
 * pages ourselves and refuse anything that is not a well-formed LMDB file with a coded error.
 *
 * Meta page layout (the liblmdb bundled with lmdb-js, mdb.c, 64-bit): MDB_page_header (24 bytes:
 * page number, txnid, pad, flags, lower/upper), then MDB_meta: u32 magic 0xBEEFC0DE, u32 data
 * version (MDB_DATA_VERSION = 2), address (8), map size (8), then the free-list MDB_db whose first
 * u32 (md_pad, alias mm_psize) holds the page size. Meta page 1 sits one page later.
 */
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { join } from "node:path";
import { IosError } from "../errors.js";
import type { StoreErrorCode } from "./errors.js";
import { readU32 } from "../codec/binary.js";

const LMDB_MAGIC = 0xbeefc0de;
const LMDB_DATA_VERSION = 2;
const PAGE_HEADER_BYTES = 24;
const MAGIC_OFFSET = PAGE_HEADER_BYTES;
const VERSION_OFFSET = PAGE_HEADER_BYTES + 4;
const PAGE_SIZE_OFFSET = PAGE_HEADER_BYTES + 24;
const META_BYTES = PAGE_SIZE_OFFSET + 4;
/** LMDB accepts page sizes that are powers of two between these (MDB_MINPAGESIZE, MAX_PAGESIZE). */
const MIN_PAGE_SIZE = 256;
const MAX_PAGE_SIZE = 0x10000;

export const DATA_FILE = "data.mdb";

function readAt(fd: number, position: number, length: number): Buffer {
  const buffer = Buffer.alloc(length);
  const read = readSync(fd, buffer, 0, length, position);
  return buffer.subarray(0, read);
}

function checkMetaPage(page: Buffer, which: number, file: string): number {
  if (page.length < META_BYTES) throw new IosError<StoreErrorCode>("STORE_CORRUPT", `${file}: meta page ${which} is cut short`);
  if (readU32(page, MAGIC_OFFSET) !== LMDB_MAGIC) throw new IosError<StoreErrorCode>("STORE_CORRUPT", `${file}: meta page ${which} lacks the LMDB magic`);
  const version = readU32(page, VERSION_OFFSET);
  if (version !== LMDB_DATA_VERSION) {
    throw new IosError<StoreErrorCode>("STORE_CORRUPT", `${file}: meta page ${which} has LMDB data version ${version}, expected ${LMDB_DATA_VERSION}`);
  }
  return readU32(page, PAGE_SIZE_OFFSET);
}

/** Throws STORE_CORRUPT unless `<directory>/data.mdb` is absent, empty, or has two valid meta pages. */
export function checkLmdbDataFile(directory: string): void {
  const file = join(directory, DATA_FILE);
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    // No data file yet: LMDB creates a fresh one.
    return;
  }
  if (size === 0) return;
  const fd = openSync(file, "r");
  try {
    const pageSize = checkMetaPage(readAt(fd, 0, META_BYTES), 0, file);
    const validSize = pageSize >= MIN_PAGE_SIZE && pageSize <= MAX_PAGE_SIZE && (pageSize & (pageSize - 1)) === 0;
    if (!validSize) throw new IosError<StoreErrorCode>("STORE_CORRUPT", `${file}: page size ${pageSize} is not a power of two in ${MIN_PAGE_SIZE}..${MAX_PAGE_SIZE}`);
    if (size < 2 * pageSize) throw new IosError<StoreErrorCode>("STORE_CORRUPT", `${file}: ${size} bytes cannot hold two ${pageSize}-byte meta pages`);
    const secondPageSize = checkMetaPage(readAt(fd, pageSize, META_BYTES), 1, file);
    if (secondPageSize !== pageSize) throw new IosError<StoreErrorCode>("STORE_CORRUPT", `${file}: meta pages disagree on the page size`);
  } finally {
    closeSync(fd);
  }
}
