const HEX = '0123456789ABCDEF';

/** 1 for the RFC 3986 unreserved characters `A-Z a-z 0-9 - _ . ~`, indexed by char code (ASCII only). */
const UNRESERVED = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || '-_.~'.includes(ch)) {
    UNRESERVED[c] = 1;
  }
}

function pct(byte: number): string {
  return '%' + HEX.charAt(byte >> 4) + HEX.charAt(byte & 15);
}

/**
 * RFC 3986 percent-encoding as both Alibaba signature schemes define it (protocol §5 step 4, §6): the UTF-8
 * bytes of `s`, keeping `A-Z a-z 0-9 - _ . ~` and writing every other byte as `%XX` in upper-case hex. So
 * space is `%20` (never `+`), and `! ' ( ) *` are encoded, unlike `encodeURIComponent`.
 *
 * A lone UTF-16 surrogate (which no UTF-8 decoder can produce) is encoded as U+FFFD, the WHATWG choice,
 * instead of throwing like `encodeURIComponent`: this runs on request input and must not become a 500.
 */
export function percentEncode(s: string): string {
  const n = s.length;
  let out = '';
  // Start of the pending run of unreserved characters: runs are copied with one slice, not char by char,
  // because base64 values of several KiB are common here (Message, SignatureValue).
  let run = 0;
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80 && UNRESERVED[c] === 1) continue;
    if (run < i) out += s.slice(run, i);
    if (c < 0x80) {
      out += pct(c);
    } else if (c < 0x800) {
      out += pct(0xc0 | (c >> 6)) + pct(0x80 | (c & 0x3f));
    } else {
      if (c >= 0xd800 && c <= 0xdfff) {
        const next = i + 1 < n ? s.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
          const cp = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
          out += pct(0xf0 | (cp >> 18)) + pct(0x80 | ((cp >> 12) & 0x3f));
          out += pct(0x80 | ((cp >> 6) & 0x3f)) + pct(0x80 | (cp & 0x3f));
          i++;
          run = i + 1;
          continue;
        }
        c = 0xfffd;
      }
      out += pct(0xe0 | (c >> 12)) + pct(0x80 | ((c >> 6) & 0x3f)) + pct(0x80 | (c & 0x3f));
    }
    run = i + 1;
  }
  // Nothing needed encoding: hand back the input itself (the common case for names, ids, hex).
  if (run === 0) return s;
  if (run < n) out += s.slice(run);
  return out;
}
