/**
 * Named offsets: a fixed-size record declares its fields once, in order, with their sizes; the
 * offsets and the total follow. `layout({ txid: 32, index: 4 })` gives
 * `{ offset: { txid: 0, index: 32 }, size: { txid: 32, index: 4 }, bytes: 36 }`.
 *
 * Field order is the object's key order (JavaScript keeps string keys in insertion order), so
 * the declaration reads like the byte diagram it replaces.
 */
export interface Layout<Fields extends Record<string, number>> {
  readonly offset: { readonly [Name in keyof Fields]: number };
  readonly size: Readonly<Fields>;
  /** Total size of the fixed part. */
  readonly bytes: number;
}

export function layout<const Fields extends Record<string, number>>(fields: Fields): Layout<Fields> {
  const offset: Record<string, number> = {};
  let bytes = 0;
  for (const [name, size] of Object.entries(fields)) {
    if (!Number.isInteger(size) || size <= 0) throw new Error(`layout field ${name} needs a positive integer size, got ${size}`);
    offset[name] = bytes;
    bytes += size;
  }
  return { offset: offset as { [Name in keyof Fields]: number }, size: fields, bytes };
}
