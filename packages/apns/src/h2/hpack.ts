// HPACK (RFC 7541) for a client that only talks to APNs: a full decoder (the server may use every
// representation, its dynamic table and Huffman), and an encoder that never indexes, so the server's
// view of our dynamic table stays empty and header blocks can be encoded once and reused.
//
// Strings are latin1 both ways: HPACK carries octets, and one char per octet keeps string lengths
// equal to octet lengths (the table-size accounting of §4.1 counts octets).

export class HpackError extends Error {
  override name = 'HpackError';
}

/** RFC 7541 Appendix A, index 1..61 (slot 0 unused so indices need no offset). */
const staticTable: readonly (readonly [string, string])[] = [
  ['', ''],
  [':authority', ''],
  [':method', 'GET'],
  [':method', 'POST'],
  [':path', '/'],
  [':path', '/index.html'],
  [':scheme', 'http'],
  [':scheme', 'https'],
  [':status', '200'],
  [':status', '204'],
  [':status', '206'],
  [':status', '304'],
  [':status', '400'],
  [':status', '404'],
  [':status', '500'],
  ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''],
  ['accept-ranges', ''],
  ['accept', ''],
  ['access-control-allow-origin', ''],
  ['age', ''],
  ['allow', ''],
  ['authorization', ''],
  ['cache-control', ''],
  ['content-disposition', ''],
  ['content-encoding', ''],
  ['content-language', ''],
  ['content-length', ''],
  ['content-location', ''],
  ['content-range', ''],
  ['content-type', ''],
  ['cookie', ''],
  ['date', ''],
  ['etag', ''],
  ['expect', ''],
  ['expires', ''],
  ['from', ''],
  ['host', ''],
  ['if-match', ''],
  ['if-modified-since', ''],
  ['if-none-match', ''],
  ['if-range', ''],
  ['if-unmodified-since', ''],
  ['last-modified', ''],
  ['link', ''],
  ['location', ''],
  ['max-forwards', ''],
  ['proxy-authenticate', ''],
  ['proxy-authorization', ''],
  ['range', ''],
  ['referer', ''],
  ['refresh', ''],
  ['retry-after', ''],
  ['server', ''],
  ['set-cookie', ''],
  ['strict-transport-security', ''],
  ['transfer-encoding', ''],
  ['user-agent', ''],
  ['vary', ''],
  ['via', ''],
  ['www-authenticate', ''],
];
const staticCount = staticTable.length - 1;

/** Name -> first static index with that name (what encodeLiteral references). */
const staticNameIndex = new Map<string, number>();
for (let i = staticCount; i >= 1; i--) staticNameIndex.set(staticTable[i]![0], i);

/** §4.1: an entry's size is its name and value octets plus 32. */
const entryOverhead = 32;

/**
 * Huffman code lengths in bits for symbols 0..255 and EOS (256), from RFC 7541 Appendix B. The
 * code is canonical (codes, ordered by length then symbol, are consecutive integers), so the
 * lengths alone determine every code; the tests check the derived codes against the RFC's list.
 */
// biome-ignore format: 16 symbols a row
const huffmanLengths = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, // 0x00
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28, // 0x10
   6, 10, 10, 12, 13,  6,  8, 11, 10, 10,  8, 11,  8,  6,  6,  6, // 0x20 ' '..'/'
   5,  5,  5,  6,  6,  6,  6,  6,  6,  6,  7,  8, 15,  6, 12, 10, // 0x30 '0'..'?'
  13,  6,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7, // 0x40 '@'..'O'
   7,  7,  7,  7,  7,  7,  7,  7,  8,  7,  8, 13, 19, 13, 14,  6, // 0x50 'P'..'_'
  15,  5,  6,  5,  6,  5,  6,  6,  6,  5,  7,  7,  6,  6,  6,  5, // 0x60 '`'..'o'
   6,  7,  6,  5,  5,  6,  7,  7,  7,  7,  7, 15, 11, 14, 13, 28, // 0x70 'p'..0x7f
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, // 0x80
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, // 0x90
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, // 0xa0
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, // 0xb0
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, // 0xc0
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, // 0xd0
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, // 0xe0
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, // 0xf0
  30, // EOS
];
const eos = 256;

/**
 * Decoding runs a nibble at a time over a state machine built once here. States are the internal
 * nodes of the code tree (state 0 = root). Since no code is shorter than 5 bits, a nibble
 * completes at most one symbol. Each transition packs: next state (bits 0-7), the symbol emitted
 * (bits 8-15) with `emitBit`, or `failBit` when the nibble walks into EOS (§5.2: an error).
 */
const emitBit = 1 << 16;
const failBit = 1 << 17;
const { transitions, acceptEnd } = buildHuffmanDecoder();

function buildHuffmanDecoder(): { transitions: Int32Array; acceptEnd: Uint8Array } {
  // Tree with children as node ids; a leaf is encoded as ~symbol (negative).
  const child0: number[] = [0];
  const child1: number[] = [0];
  // Codes as assigned by the canonical rule: sort by (length, symbol), count up.
  const order = huffmanLengths.map((_, symbol) => symbol);
  order.sort((a, b) => huffmanLengths[a]! - huffmanLengths[b]! || a - b);
  let code = 0;
  let prevLength = huffmanLengths[order[0]!]!;
  for (const symbol of order) {
    const length = huffmanLengths[symbol]!;
    code <<= length - prevLength;
    prevLength = length;
    let node = 0;
    for (let bit = length - 1; bit >= 0; bit--) {
      const children = (code >>> bit) & 1 ? child1 : child0;
      if (bit === 0) {
        children[node] = ~symbol;
        break;
      }
      if (!children[node]) {
        children[node] = child0.length;
        child0.push(0);
        child1.push(0);
      }
      node = children[node]!;
    }
    code++;
  }
  // Full prefix code over 257 symbols: 256 internal nodes, no missing child. Cheap to assert, and
  // catches any mistake in the length table above at import time.
  if (child0.length !== 256 || child0.includes(0) || child1.includes(0) || code !== 2 ** 30) {
    throw new Error('HPACK Huffman table is not a complete canonical code');
  }

  // A string may end only where the bits since the last symbol are padding: a prefix of EOS (all
  // ones) no longer than 7 bits (§5.2). Depth and all-ones-ness of each state decide that.
  const acceptEnd = new Uint8Array(256);
  const depth = new Uint8Array(256);
  const allOnes = new Uint8Array(256);
  acceptEnd[0] = 1;
  allOnes[0] = 1;
  for (let node = 0; node < 256; node++) {
    // Children always have higher ids than their parent, so parents are done first.
    const one = child1[node]!;
    if (one > 0) {
      depth[one] = depth[node]! + 1;
      allOnes[one] = allOnes[node]!;
      acceptEnd[one] = allOnes[one]! && depth[one]! <= 7 ? 1 : 0;
    }
    const zero = child0[node]!;
    if (zero > 0) depth[zero] = depth[node]! + 1;
  }

  const transitions = new Int32Array(256 * 16);
  for (let state = 0; state < 256; state++) {
    for (let nibble = 0; nibble < 16; nibble++) {
      let node = state;
      let out = 0;
      for (let bit = 3; bit >= 0; bit--) {
        const next = (nibble >>> bit) & 1 ? child1[node]! : child0[node]!;
        if (next >= 0) {
          node = next;
          continue;
        }
        const symbol = ~next;
        if (symbol === eos) {
          out = failBit;
          break;
        }
        out = emitBit | (symbol << 8);
        node = 0;
      }
      transitions[state * 16 + nibble] = out & failBit ? failBit : out | node;
    }
  }
  return { transitions, acceptEnd };
}

/** Reused output space for Huffman decoding; a string never decodes to more than 8/5 its size. */
let huffmanScratch = Buffer.allocUnsafe(256);

function huffmanDecode(src: Buffer, start: number, end: number): string {
  const maxOut = Math.ceil(((end - start) * 8) / 5);
  if (huffmanScratch.length < maxOut)
    huffmanScratch = Buffer.allocUnsafe(Math.max(maxOut, huffmanScratch.length * 2));
  const out = huffmanScratch;
  let n = 0;
  let state = 0;
  for (let i = start; i < end; i++) {
    const byte = src[i]!;
    let t = transitions[(state << 4) | (byte >>> 4)]!;
    if (t & failBit) throw new HpackError('Huffman string contains EOS');
    if (t & emitBit) out[n++] = (t >>> 8) & 0xff;
    t = transitions[((t & 0xff) << 4) | (byte & 0x0f)]!;
    if (t & failBit) throw new HpackError('Huffman string contains EOS');
    if (t & emitBit) out[n++] = (t >>> 8) & 0xff;
    state = t & 0xff;
  }
  if (!acceptEnd[state]) throw new HpackError('invalid Huffman padding');
  return out.toString('latin1', 0, n);
}

/** Guard for decoded integers: far above any legitimate index, length or table size. */
const maxInteger = 2 ** 31 - 1;
const empty = Buffer.alloc(0);

/** Decodes header blocks; keeps the dynamic table across blocks of one connection. */
export class HpackDecoder {
  /** Newest entry last: dynamic index 1 (HPACK index 62) is `entries[entries.length - 1]`. */
  private readonly entries: [string, string][] = [];
  private size = 0;
  private capacity: number;
  // Decode cursor: fields rather than return values keep the hot path allocation-free.
  private buf: Buffer = empty;
  private pos = 0;

  /** `maxTableSize` is the SETTINGS_HEADER_TABLE_SIZE we advertise: the cap for size updates. */
  constructor(private readonly maxTableSize = 4096) {
    this.capacity = maxTableSize;
  }

  /** Decodes one complete header block (HEADERS + CONTINUATION payloads concatenated). */
  decode(block: Buffer): [string, string][] {
    this.buf = block;
    this.pos = 0;
    const fields: [string, string][] = [];
    while (this.pos < block.length) {
      const first = block[this.pos]!;
      if (first & 0x80) {
        // §6.1 indexed field.
        const field = this.lookup(this.integer(7));
        fields.push([field[0], field[1]]);
      } else if (first & 0x40) {
        // §6.2.1 literal with incremental indexing.
        const field = this.literal(6);
        this.add(field);
        fields.push([field[0], field[1]]);
      } else if (first & 0x20) {
        // §6.3 dynamic table size update. §4.2: only at the start of a block, before any field.
        if (fields.length > 0) throw new HpackError('dynamic table size update after a header field');
        const size = this.integer(5);
        if (size > this.maxTableSize)
          throw new HpackError(`table size update ${size} > ${this.maxTableSize}`);
        this.capacity = size;
        this.evict(0);
      } else {
        // §6.2.2 without indexing (0000), §6.2.3 never indexed (0001): same shape, 4-bit index.
        fields.push(this.literal(4));
      }
    }
    this.buf = empty;
    return fields;
  }

  /** §5.1 integer with an N-bit prefix, starting at the current byte. */
  private integer(prefixBits: number): number {
    const buf = this.buf;
    if (this.pos >= buf.length) throw new HpackError('truncated integer');
    const max = (1 << prefixBits) - 1;
    let value = buf[this.pos++]! & max;
    if (value < max) return value;
    for (let shift = 0; ; shift += 7) {
      if (this.pos >= buf.length) throw new HpackError('truncated integer');
      // Also bounds zero-valued continuation bytes (0x80...), which never trip the value check.
      if (shift > 28) throw new HpackError('integer overflow');
      const byte = buf[this.pos++]!;
      // Multiplication, not <<: shifts wrap at 32 bits. The guard keeps values exact and bounded.
      value += (byte & 0x7f) * 2 ** shift;
      if (value > maxInteger) throw new HpackError('integer overflow');
      if (!(byte & 0x80)) return value;
    }
  }

  /** §5.2 string literal: H bit, 7-bit-prefix length, octets. */
  private string(): string {
    const buf = this.buf;
    if (this.pos >= buf.length) throw new HpackError('truncated string');
    const huffman = buf[this.pos]! & 0x80;
    const length = this.integer(7);
    const start = this.pos;
    const end = start + length;
    if (end > buf.length) throw new HpackError('truncated string');
    this.pos = end;
    return huffman ? huffmanDecode(buf, start, end) : buf.toString('latin1', start, end);
  }

  /** §6.2 literal field: name index in an N-bit prefix (0 = literal name follows), then value. */
  private literal(prefixBits: number): [string, string] {
    const index = this.integer(prefixBits);
    const name = index === 0 ? this.string() : this.lookup(index)[0];
    return [name, this.string()];
  }

  private lookup(index: number): readonly [string, string] {
    if (index === 0) throw new HpackError('index 0');
    if (index <= staticCount) return staticTable[index]!;
    const entry = this.entries[this.entries.length - (index - staticCount)];
    if (!entry) throw new HpackError(`index ${index} beyond the tables`);
    return entry;
  }

  /** §4.4: evict oldest entries to make room; an entry larger than the table empties it. */
  private add(field: [string, string]): void {
    const size = field[0].length + field[1].length + entryOverhead;
    this.evict(size);
    if (size <= this.capacity) {
      this.entries.push(field);
      this.size += size;
    }
  }

  /** Evicts oldest entries until `room` more octets fit (§4.3, §4.4). */
  private evict(room: number): void {
    while (this.entries.length > 0 && this.size + room > this.capacity) {
      const [name, value] = this.entries.shift()!;
      this.size -= name.length + value.length + entryOverhead;
    }
  }
}

/** Writes a §5.1 integer at `offset` (first byte = flags | prefix); returns the offset after it. */
function writeInteger(out: Buffer, offset: number, value: number, prefixBits: number, flags: number): number {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out[offset++] = flags | value;
    return offset;
  }
  out[offset++] = flags | max;
  let rest = value - max;
  while (rest >= 0x80) {
    out[offset++] = (rest % 0x80) | 0x80;
    rest = Math.floor(rest / 0x80);
  }
  out[offset++] = rest;
  return offset;
}

function integerLength(value: number, prefixBits: number): number {
  const max = (1 << prefixBits) - 1;
  if (value < max) return 1;
  let length = 2;
  for (let rest = value - max; rest >= 0x80; rest = Math.floor(rest / 0x80)) length++;
  return length;
}

/** RFC 7541 5.1 integer encoding with an N-bit prefix and the given first-byte flag bits. */
export function encodeInteger(value: number, prefixBits: number, flags: number): Buffer {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`invalid HPACK integer ${value}`);
  if (!Number.isInteger(prefixBits) || prefixBits < 1 || prefixBits > 8) {
    throw new RangeError(`invalid prefix bits ${prefixBits}`);
  }
  const out = Buffer.allocUnsafe(integerLength(value, prefixBits));
  writeInteger(out, 0, value, prefixBits, flags & ~((1 << prefixBits) - 1) & 0xff);
  return out;
}

/** Encodes an indexed header field (RFC 7541 6.1) for a static-table index, e.g. 3 for `:method: POST`. */
export function encodeIndexed(index: number): Buffer {
  if (!Number.isInteger(index) || index < 1 || index > staticCount) {
    throw new RangeError(`not a static table index: ${index}`);
  }
  return encodeInteger(index, 7, 0x80);
}

/** Chars that latin1 encoding would silently mangle: HPACK strings here are one octet per char. */
const nonLatin1 = /[\u0100-\uffff]/;

/**
 * Encodes a header field as "Literal Header Field without Indexing" (RFC 7541 6.2.2), in one
 * allocation: the name as the first matching static index if there is one, else as a literal;
 * raw (non-Huffman) strings. `name` must already be lowercase (HTTP/2 requires it; not checked).
 */
export function encodeLiteral(name: string, value: string): Buffer {
  if (nonLatin1.test(name) || nonLatin1.test(value)) {
    throw new RangeError(`header ${name} has a char outside latin1`);
  }
  const nameIndex = staticNameIndex.get(name) ?? 0;
  let length = integerLength(nameIndex, 4) + integerLength(value.length, 7) + value.length;
  if (nameIndex === 0) length += integerLength(name.length, 7) + name.length;
  const out = Buffer.allocUnsafe(length);
  let offset = writeInteger(out, 0, nameIndex, 4, 0x00);
  if (nameIndex === 0) {
    offset = writeInteger(out, offset, name.length, 7, 0x00);
    offset += out.write(name, offset, 'latin1');
  }
  offset = writeInteger(out, offset, value.length, 7, 0x00);
  out.write(value, offset, 'latin1');
  return out;
}
