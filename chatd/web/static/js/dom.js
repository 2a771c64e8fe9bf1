// Small DOM helpers shared by the app's modules.  el() sets text with
// textContent only: server text never becomes markup.

export const $ = (id) => document.getElementById(id);

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// The Date of a server timestamp (now, for none or a bad one).
export function timeOf(ts) {
  const date = ts ? new Date(ts) : new Date();
  return Number.isNaN(date.getTime()) ? new Date() : date;
}

// 24-hour HH:MM in the reader's time zone.
export function clock(date) {
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
}
