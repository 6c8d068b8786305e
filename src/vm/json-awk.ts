// A JSON reader for the guest, in busybox awk (the initramfs has no jq): it parses a whole
// document and prints shell assignments for the fields asked, to be `eval`ed by /init.
//
//   awk -f json.awk -v spec='args=process.args:w cwd=process.cwd:s' config.json
//
// Kinds: `s` a string, number or boolean as one shell-quoted word; `w` an array of
// strings as shell-quoted words (`eval "set -- $args"` gives them back exactly, newlines
// and quotes included); `n` an array of numbers joined with commas; `t` the JSON type of
// the value (o, a, s, l for literals) or empty when absent. A field that is absent
// gives an empty string. Strings are decoded fully: \" \\ \/ \b \f \n \r \t and \uXXXX
// (surrogate pairs included) as UTF-8; NUL, which no argv or environment can hold, is dropped.
//
// Speed matters more than it seems: under v86 busybox awk runs ~0.4 ms per interpreted
// operation, so a parser walking config.json (~4 KiB) a character at a time took seconds,
// and one loop turn per token still took a second. So the work is done by regular
// expressions (C code) wherever it can be: raw newlines and tabs (never inside a JSON
// string) become spaces; one gsub cuts the text into tokens, one a line, and takes an
// array of strings and literals (capabilities, mount options, env) as one token; commas
// and colons are dropped between tokens, since an object's tokens alternate key and
// value. The awk loop then runs once per remaining token, a packed array is split only
// when a field inside it is asked for, and strings are unescaped only when asked for and
// only if they hold a backslash. Syntax is checked only as far as brackets balancing.

export const JSON_AWK = String.raw`
function hexval(h,    i, n, c) {
  n = 0
  for (i = 1; i <= length(h); i++) {
    c = index("0123456789abcdef", tolower(substr(h, i, 1)))
    if (c == 0) return 65533
    n = n * 16 + c - 1
  }
  return n
}
function utf8(n) {
  if (n == 0) return ""
  if (n < 128) return sprintf("%c", n)
  if (n < 2048) return sprintf("%c%c", 192 + int(n / 64), 128 + n % 64)
  if (n < 65536) return sprintf("%c%c%c", 224 + int(n / 4096), 128 + int(n / 64) % 64, 128 + n % 64)
  return sprintf("%c%c%c%c", 240 + int(n / 262144), 128 + int(n / 4096) % 64, 128 + int(n / 64) % 64, 128 + n % 64)
}
# A string token (quotes included) → its text.
function str(t,    out, i, e, n, lo) {
  t = substr(t, 2, length(t) - 2)
  if (index(t, "\\") == 0) return t
  out = ""
  while ((i = index(t, "\\")) > 0) {
    out = out substr(t, 1, i - 1)
    e = substr(t, i + 1, 1)
    t = substr(t, i + 2)
    if (e == "n") out = out "\n"
    else if (e == "t") out = out "\t"
    else if (e == "r") out = out "\r"
    else if (e == "b") out = out "\b"
    else if (e == "f") out = out "\f"
    else if (e == "u") {
      n = hexval(substr(t, 1, 4))
      t = substr(t, 5)
      if (n >= 55296 && n < 56320 && substr(t, 1, 2) == "\\u") {
        lo = hexval(substr(t, 3, 4))
        if (lo >= 56320 && lo < 57344) { n = 65536 + (n - 55296) * 1024 + (lo - 56320); t = substr(t, 7) }
      }
      out = out utf8(n)
    }
    else out = out e
  }
  return out t
}
function q(s,    out, i) {
  out = "'"
  while ((i = index(s, "'")) > 0) { out = out substr(s, 1, i - 1) "'\\''"; s = substr(s, i + 1) }
  return out s "'"
}
# A packed array token "[ e1 , e2 ]" at path → its elements as V/T/N entries.
function unpack(path,    t, k) {
  t = P[path]; delete P[path]
  t = substr(t, 2, length(t) - 2); k = 0
  while (match(t, /"([^"\\]|[\\].)*"|[-+.0-9a-zA-Z]+/)) {
    V[path "." k] = substr(t, RSTART, RLENGTH)
    T[path "." k] = (substr(t, RSTART, 1) == "\"") ? "s" : "l"
    k++
    t = substr(t, RSTART + RLENGTH)
  }
  N[path] = k
}
# Unpacks any packed array on the way to path.
function reach(path,    n, parts, i, p) {
  n = split(substr(path, 2), parts, ".")
  p = ""
  for (i = 1; i <= n; i++) { p = p "." parts[i]; if (p in P) unpack(p) }
}
function val(path) { return (T[path] == "s") ? str(V[path]) : V[path] }
function field(path, kind,    i, out, sep) {
  reach(path)
  if (kind == "t") return T[path]
  if (kind == "s") return (path in V) ? val(path) : ""
  out = ""; sep = ""
  for (i = 0; i < N[path]; i++) {
    out = out sep (kind == "w" ? q(val(path "." i)) : val(path "." i))
    sep = (kind == "w" ? " " : ",")
  }
  return out
}
{ buf = buf $0 " " }
END {
  gsub(/\t|\r/, " ", buf)
  gsub(/\[ *(("([^"\\]|[\\].)*"|[-+.0-9a-zA-Z]+)( *, *("([^"\\]|[\\].)*"|[-+.0-9a-zA-Z]+))*)? *\]|"([^"\\]|[\\].)*"|[][{}]|[-+.0-9a-zA-Z]+/, "&\n", buf)
  gsub(/\n[ ,:]+/, "\n", buf)
  sub(/^[ ,:]+/, "", buf)
  nt = split(buf, tok, "\n")
  d = 0; ctype[0] = ""; cur = ""; key = 0; seen = 0
  for (i = 1; i < nt; i++) {
    t = tok[i]
    c = substr(t, 1, 1)
    if (c == "}" || c == "]") {
      if (c == "]") N[path[d]] = idx[d]
      d--; key = (ctype[d] == "o")
      continue
    }
    if (key) { cur = path[d] "." str(t); key = 0; continue }
    if (ctype[d] == "a") { cur = path[d] "." idx[d]; idx[d]++ }
    seen = 1
    if (c == "{") { d++; path[d] = cur; ctype[d] = "o"; T[cur] = "o"; key = 1; continue }
    if (c == "[") {
      T[cur] = "a"
      if (length(t) > 1) { P[cur] = t; key = (ctype[d] == "o"); continue }
      d++; path[d] = cur; ctype[d] = "a"; idx[d] = 0
      continue
    }
    V[cur] = t; T[cur] = (c == "\"") ? "s" : "l"
    key = (ctype[d] == "o")
  }
  if (!seen || d != 0) { print "json.awk: not a JSON document" > "/dev/stderr"; exit 2 }
  n = split(spec, specs, " ")
  for (i = 1; i <= n; i++) {
    eq = index(specs[i], "="); colon = index(specs[i], ":")
    name = substr(specs[i], 1, eq - 1)
    p = "." substr(specs[i], eq + 1, colon - eq - 1)
    print name "=" q(field(p, substr(specs[i], colon + 1)))
  }
}
`;
