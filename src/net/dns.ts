// The gateway is the guest's DNS server but we have no upstream resolver. Answering
// at once with REFUSED makes resolvers fail fast (or try their next server) instead of
// timing out for seconds on every lookup in the guest.

const RCODE_FORMERR = 1;
const RCODE_NOTIMP = 4;
const RCODE_REFUSED = 5;

/** The refusal for a DNS query, or null when the bytes are not a query. */
export function dnsRefusal(query: Uint8Array): Uint8Array | null {
  if (query.length < 12) return null;
  const view = new DataView(query.buffer, query.byteOffset, query.length);
  const flags = view.getUint16(2);
  if (flags & 0x8000) return null; // a response: never answer those (loops)
  const opcode = (flags >> 11) & 0xf;
  const questionEnd = view.getUint16(4) === 1 ? endOfQuestion(query, 12) : -1;
  const rcode = questionEnd < 0 ? RCODE_FORMERR : opcode === 0 ? RCODE_REFUSED : RCODE_NOTIMP;
  const length = questionEnd < 0 ? 12 : questionEnd;
  const out = new Uint8Array(length);
  out.set(query.subarray(0, length));
  const o = new DataView(out.buffer);
  // QR=1, opcode and RD echoed, RA=0 (we do not recurse).
  o.setUint16(2, 0x8000 | (opcode << 11) | (flags & 0x0100) | rcode);
  o.setUint16(4, questionEnd < 0 ? 0 : 1);
  o.setUint16(6, 0);
  o.setUint16(8, 0);
  o.setUint16(10, 0);
  return out;
}

/** Offset just past the question at `off` (name, type, class), or -1 if malformed. */
function endOfQuestion(msg: Uint8Array, off: number): number {
  for (let labels = 0; labels < 128; labels++) {
    if (off >= msg.length) return -1;
    const len = msg[off]!;
    if (len === 0) return off + 5 <= msg.length ? off + 5 : -1;
    if ((len & 0xc0) !== 0) return -1; // queries carry no compression pointers
    off += 1 + len;
  }
  return -1;
}
