// IRC formatting and links as DOM nodes.
//
// Everything here builds nodes with document.createElement and
// textContent: text from the server (messages, nicks, topics, channel
// names, reasons) never goes through innerHTML, so no message can put an
// element on the page.  Formatting codes become spans with classes
// (fmt-b, fmt-i, fmt-u, fmt-s, fmt-m, fmt-rev, fg-N, bg-N) that
// client.css styles; links become <a> only for http: and https: URLs.

const BOLD = "\x02";
const COLOUR = "\x03";
const HEX_COLOUR = "\x04";
const RESET = "\x0f";
const MONOSPACE = "\x11";
const REVERSE = "\x16";
const ITALIC = "\x1d";
const STRIKE = "\x1e";
const UNDERLINE = "\x1f";

const TOGGLES = {
  [BOLD]: "b",
  [ITALIC]: "i",
  [UNDERLINE]: "u",
  [STRIKE]: "s",
  [MONOSPACE]: "m",
  [REVERSE]: "rev",
};

// One run of text with the formatting in force for it.
// parse("a\x02b") -> [{text:"a", ...}, {text:"b", b:true, ...}]
export function parse(text) {
  const runs = [];
  let state = { b: false, i: false, u: false, s: false, m: false, rev: false, fg: null, bg: null };
  let buf = "";
  const flush = () => {
    if (buf) runs.push({ ...state, text: buf });
    buf = "";
  };
  for (let k = 0; k < text.length; k++) {
    const ch = text[k];
    if (ch in TOGGLES) {
      flush();
      const key = TOGGLES[ch];
      state = { ...state, [key]: !state[key] };
    } else if (ch === RESET) {
      flush();
      state = { b: false, i: false, u: false, s: false, m: false, rev: false, fg: null, bg: null };
    } else if (ch === COLOUR) {
      flush();
      const found = /^(\d{1,2})(?:,(\d{1,2}))?/.exec(text.slice(k + 1, k + 6));
      if (!found) {
        state = { ...state, fg: null, bg: null };
      } else {
        const fg = Number(found[1]);
        const bg = found[2] === undefined ? state.bg : Number(found[2]);
        state = { ...state, fg, bg };
        k += found[0].length;
      }
    } else if (ch === HEX_COLOUR) {
      // Hex colours are removed, not shown (as the console client does).
      flush();
      const found = /^[0-9A-Fa-f]{6}(?:,[0-9A-Fa-f]{6})?/.exec(text.slice(k + 1, k + 14));
      if (found) k += found[0].length;
    } else if (ch < " " && ch !== "\t") {
      // Any other control character (the server refuses them) is dropped.
    } else {
      buf += ch;
    }
  }
  flush();
  return runs;
}

// Text without the formatting codes (for titles, notifications, the tab).
export function strip(text) {
  return parse(text).map((run) => run.text).join("");
}

const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;
// Punctuation that ends a sentence rather than a URL.
const TRAILING = /[.,;:!?)\]}'"]+$/;

// The http(s) URL as a safe href, or null.
export function safeHref(candidate) {
  let url;
  try {
    url = new URL(candidate);
  } catch {
    return null;
  }
  return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
}

// Text with its http(s) URLs as links, appended to parent.
export function appendLinked(parent, text) {
  let last = 0;
  for (const found of text.matchAll(URL_RE)) {
    let href = found[0];
    const trailing = TRAILING.exec(href);
    // Keep a closing bracket that closes one opened inside the URL.
    if (trailing && !(trailing[0] === ")" && href.includes("("))) {
      href = href.slice(0, href.length - trailing[0].length);
    }
    const safe = safeHref(href);
    if (!safe) continue;
    if (found.index > last) parent.append(document.createTextNode(text.slice(last, found.index)));
    const a = document.createElement("a");
    a.href = safe;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    a.textContent = href;
    parent.append(a);
    last = found.index + href.length;
  }
  if (last < text.length) parent.append(document.createTextNode(text.slice(last)));
}

// A DocumentFragment showing IRC-formatted text, with links.
export function render(text) {
  const fragment = document.createDocumentFragment();
  for (const run of parse(text)) {
    const classes = [];
    for (const key of ["b", "i", "u", "s", "m", "rev"]) if (run[key]) classes.push(`fmt-${key}`);
    if (run.fg !== null && run.fg < 16) classes.push(`fg-${run.fg}`);
    if (run.bg !== null && run.bg < 16) classes.push(`bg-${run.bg}`);
    if (classes.length === 0) {
      appendLinked(fragment, run.text);
    } else {
      const span = document.createElement("span");
      span.className = classes.join(" ");
      appendLinked(span, run.text);
      fragment.append(span);
    }
  }
  return fragment;
}

// One of 12 colour classes for a nick, the same on every load.
export function nickClass(nick) {
  let hash = 0;
  for (const ch of nick.toLowerCase()) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  return `nick-c${hash % 12}`;
}
