// Static memory of the SHA-256/Merkle kernel. The runtime is `stub` and nothing is allocated:
// every buffer is a fixed region reserved here, so the host creates its views once.

/** Message bytes written by the host: messages, packed leaves, streaming chunks (4 MiB). */
export const INPUT_CAPACITY: u32 = 4 << 20;
/** 32-byte hashes: batch outputs, leaf hashes and the Merkle levels above them (4 MiB). */
export const HASH_CAPACITY: u32 = 1 << 17;
/** Deepest audit path of a tree of at most 2^32 - 1 leaves (RFC 9162 §2.1.3). */
export const MAX_PATH: u32 = 32;

// One guard byte before INPUT and HASHES: the Merkle paths load a block starting one byte
// before a message (that byte's value is masked out), and it must stay inside the memory.
export const INPUT: usize = memory.data(<i32>INPUT_CAPACITY + 16, 16) + 16;
export const HASHES: usize = memory.data(<i32>(HASH_CAPACITY * 32) + 16, 16) + 16;
/** Byte lengths (u32) of variable-size leaves packed back to back in INPUT. */
export const LENGTHS: usize = memory.data(<i32>(HASH_CAPACITY * 4), 16);
/** Siblings of an audit path being verified, 32 bytes each, leaf level first (RFC 6962 §2.1.1). */
export const PATH: usize = memory.data(<i32>(MAX_PATH * 32), 16);
/** 32-byte result (digest or root); also the leaf hash handed to path verification. */
export const OUT: usize = memory.data(32, 16);
