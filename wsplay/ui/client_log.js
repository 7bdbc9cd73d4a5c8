// A panel client's log (see log_view.py): rows appended, newest last, auto-scrolled while
// the reader is at the bottom. Each message switches between UTF-8, hex, base64 and, for
// text that parses, pretty JSON (the switches show on hover, or on every line with the
// "encodings" toggle, so a quiet log reads as messages); a click on a message shows the
// frames that carried it (frame_view.py); a long message shows its start and a button for
// the rest; the log filters by direction, kind and text.

const DIRECTIONS = [["", "all directions"], ["→", "→ sent"], ["←", "← received"],
  ["•", "• connection"], ["✗", "✗ failures"]];
const KINDS = ["text", "bytes", "ping", "pong", "open", "close", "refused", "repeat", "error"];
const NAMES = { "→": "sent", "←": "received", "•": "event", "✗": "failure" };
const SHORT = 240; // characters of a message shown before "show all"

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function fromBase64(text) {
  const raw = atob(text);
  return Uint8Array.from(raw, (char) => char.charCodeAt(0));
}

function toBase64(bytes) {
  let raw = "";
  for (const byte of bytes) raw += String.fromCharCode(byte);
  return btoa(raw);
}

const isMessage = (row) => row.kind === "text" || row.kind === "bytes";
const bytesOf = (row) => (row.b64 !== undefined ? fromBase64(row.b64) : new TextEncoder().encode(row.text));
const textOf = (row) => (row.b64 !== undefined ? new TextDecoder().decode(bytesOf(row)) : row.text);

function asJson(row) {
  try {
    const text = textOf(row).trim();
    if (!text.startsWith("{") && !text.startsWith("[")) return null;
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return null;
  }
}

// What a message looks like in one view; the views offered depend on the message.
export function shown(row, view) {
  if (view === "hex") return Array.from(bytesOf(row), (b) => b.toString(16).padStart(2, "0")).join(" ");
  if (view === "base64") return row.b64 !== undefined ? row.b64 : toBase64(bytesOf(row));
  if (view === "json") return asJson(row) ?? textOf(row);
  // utf-8: control characters (and bytes that are not UTF-8) as a visible dot
  return textOf(row).replace(/[\u0000-\u0008\u000b-\u001f\u007f\ufffd]/g, "·");
}

function bitCells(bits, groups) {
  // One byte of a frame's header as its eight bits, each group of bits named under it.
  const byte = element("span", "wsp-bits");
  let at = 0;
  for (const [width, name, on] of groups) {
    const group = element("span", "wsp-bit-group" + (on ? " wsp-bit-on" : ""));
    group.append(element("span", "wsp-bit-values", bits.slice(at, at + width)),
      element("span", "wsp-bit-name", name));
    byte.appendChild(group);
    at += width;
  }
  return byte;
}

function field(name, value, note) {
  const line = element("div", "wsp-frame-field");
  line.append(element("span", "wsp-frame-name", name), element("code", "", value));
  if (note) line.appendChild(element("span", "wsp-frame-note", note));
  return line;
}

// A message's frames, as RFC 6455 §5.2 draws a header: byte 0 (FIN, RSV1-3, opcode) and
// byte 1 (MASK, 7-bit length), then the extended length, the mask key and the payload.
export function framesView(frames) {
  const box = element("div", "wsp-frames");
  if (!frames || !frames.length) {
    box.appendChild(element("div", "wsp-frame-note",
      "Its frames are no longer kept (the wire keeps each connection's newest 256)."));
    return box;
  }
  frames.forEach((frame, index) => {
    const one = element("div", "wsp-frame");
    const arrow = frame.dir === "sent" ? "→ sent" : "← received";
    const title = `${arrow}, frame ${index + 1} of ${frames.length}: ${frame.kind}` +
      (frame.note ? ` (${frame.note})` : "") + `, ${frame.len} byte${frame.len === 1 ? "" : "s"}`;
    one.appendChild(element("div", "wsp-frame-title", title));
    const rsv = frame.rsv.join("");
    const header = element("div", "wsp-frame-header");
    header.append(
      bitCells(frame.bits[0], [[1, `FIN=${frame.fin}`, frame.fin], [3, `RSV=${rsv}`, false],
        [4, `opcode=0x${frame.op.toString(16)} ${frame.kind}`, true]]),
      bitCells(frame.bits[1], [[1, `MASK=${frame.masked}`, frame.masked],
        [7, `length ${frame.len7}`, true]]));
    one.appendChild(header);
    one.appendChild(field("length", `${frame.len}`, frame.enc_note));
    one.appendChild(field("header bytes", frame.header,
      `${frame.header.split(" ").length} bytes`));
    one.appendChild(frame.mask !== undefined
      ? field("mask key", frame.mask, "a client masks every frame it sends")
      : field("mask key", "none", "a server never masks"));
    if (frame.wire !== undefined) {
      const more = frame.more ? " …" : "";
      one.appendChild(field("payload on the wire", frame.wire + more));
      if (frame.unmasked !== undefined) one.appendChild(field("unmasked", frame.unmasked + more));
      one.appendChild(field("as the app sees it", frame.app));
    }
    box.appendChild(one);
  });
  return box;
}

function viewsOf(row) {
  const views = row.kind === "bytes" ? ["hex", "utf-8", "base64"] : ["utf-8", "hex", "base64"];
  if (asJson(row) !== null) views.push("json");
  return views;
}

function render({ model, el }) {
  el.classList.add("wsplay-client-log");
  const views = new Map(); // seq -> the view chosen for that message
  const whole = new Set(); // seqs of long messages shown whole
  const framesShown = new Set(); // seqs of messages whose frames are shown
  const rows = [];
  let lastSeq = -Infinity;

  const tools = element("div", "wsp-log-tools");
  const direction = element("select", "wsp-log-dir");
  for (const [value, text] of DIRECTIONS) direction.appendChild(new Option(text, value));
  const kind = element("select", "wsp-log-kind");
  kind.appendChild(new Option("every kind", ""));
  for (const name of KINDS) kind.appendChild(new Option(name, name));
  const search = element("input", "wsp-log-search");
  search.type = "search";
  search.placeholder = "search the log";
  const encodings = element("label", "wsp-log-encodings");
  const encodingsBox = element("input");
  encodingsBox.type = "checkbox";
  encodings.append(encodingsBox, " encodings");
  encodings.title = "the UTF-8 / hex / base64 / JSON switches on every message " +
    "(else they show when the pointer is on a message)";
  encodingsBox.onchange = () => el.classList.toggle("wsp-show-views", encodingsBox.checked);
  tools.append(direction, kind, search, encodings);
  const scroller = element("div", "wsp-log-scroll");
  const table = element("table", "wsplay-log");
  const body = element("tbody");
  table.appendChild(body);
  scroller.appendChild(table);
  el.replaceChildren(tools, scroller);

  const matches = (row) => {
    if (direction.value && row.dir !== direction.value) return false;
    if (kind.value && row.kind !== kind.value) return false;
    const text = search.value.trim().toLowerCase();
    if (!text) return true;
    const words = isMessage(row) ? shown(row, views.get(row.seq) || viewsOf(row)[0]) : row.text;
    return `${row.kind} ${words}`.toLowerCase().includes(text);
  };

  const dataCell = (row) => {
    const cell = element("td", "wsp-log-text");
    const redraw = () => cell.replaceWith(dataCell(row));
    const message = isMessage(row);
    const offered = message ? viewsOf(row) : [];
    const view = views.get(row.seq) || offered[0];
    const text = message ? shown(row, view) : row.text;
    const long = message && text.length > SHORT && !whole.has(row.seq);
    const content = element(view === "json" ? "pre" : "span", "wsp-log-data",
      long ? text.slice(0, SHORT) : text);
    if (message && view !== offered[0]) {
      // The switches hide until hovered: the line still says which encoding it shows.
      cell.appendChild(element("span", "wsp-log-as", view));
    }
    cell.appendChild(content);
    if (long || (message && whole.has(row.seq))) {
      const more = element("button", "wsp-log-more",
        long ? `… show all ${text.length} characters` : "show less");
      more.onclick = () => {
        if (long) whole.add(row.seq);
        else whole.delete(row.seq);
        redraw();
      };
      cell.appendChild(more);
    } else if (row.cut) {
      content.appendChild(element("i", "wsp-log-cut", " … (only the start is kept)"));
    }
    const switcher = element("span", "wsp-views");
    for (const name of offered) {
      const button = element("button", "wsp-view" + (name === view ? " wsp-view-on" : ""), name);
      button.title = `show this message as ${name}`;
      button.onclick = () => {
        views.set(row.seq, name);
        redraw();
      };
      switcher.appendChild(button);
    }
    const open = framesShown.has(row.seq);
    if (row.frames) {
      const toggle = () => {
        if (open) framesShown.delete(row.seq);
        else framesShown.add(row.seq);
        redraw();
      };
      content.classList.add("wsp-has-frames");
      content.title = open ? "click to hide its frames" : "click to see the frames that carried it";
      content.onclick = () => {
        if (!String(window.getSelection?.() ?? "")) toggle(); // not while selecting text
      };
      const button = element("button", "wsp-view wsp-frames-button" + (open ? " wsp-view-on" : ""),
        "frames");
      button.title = "the frames that carried it on the wire";
      button.onclick = toggle;
      switcher.appendChild(button);
    }
    if (switcher.firstChild) cell.appendChild(switcher);
    if (open && row.frames) {
      cell.classList.add("wsp-log-text-open"); // its own line, the row's whole width
      cell.appendChild(framesView(row.frames));
    }
    return cell;
  };

  const line = (row) => {
    const tr = element("tr", `wsp-log-${NAMES[row.dir] || "event"} wsp-log-kind-${row.kind}`);
    if (row.kind === "missed") {
      tr.appendChild(element("td", "wsp-log-missed", row.text));
      tr.firstChild.colSpan = 5;
      tr.onclick = () => model.send({ kind: "hello" });
      return tr;
    }
    const arrow = element("td", "wsp-log-dir-cell", row.dir);
    arrow.title = NAMES[row.dir] || "";
    tr.append(element("td", "wsp-log-time", row.t), arrow, element("td", "wsp-log-kind", row.kind),
      element("td", "wsp-log-size", row.size === null || row.size === undefined ? "" : `${row.size} B`),
      dataCell(row));
    tr.hidden = !matches(row);
    return tr;
  };

  const refilter = () => {
    rows.forEach((row, index) => {
      if (row.kind !== "missed") body.children[index].hidden = !matches(row);
    });
  };
  direction.onchange = kind.onchange = refilter;
  search.oninput = refilter;

  const add = (fresh, missed) => {
    const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 30;
    if (missed) {
      const marker = { kind: "missed", text: `⋯ ${missed} more lines arrived faster than ` +
        "they are drawn: click to load the newest ones" };
      rows.push(marker);
      body.appendChild(line(marker));
    }
    for (const row of fresh) {
      rows.push(row);
      body.appendChild(line(row));
      lastSeq = Math.max(lastSeq, row.seq);
    }
    const keep = model.get("max_rows") || 500;
    while (rows.length > keep) {
      views.delete(rows.shift().seq);
      body.firstChild.remove();
    }
    if (atBottom) scroller.scrollTop = scroller.scrollHeight;
  };

  const onMessage = (message) => {
    if (!message) return;
    if (message.kind === "reset") {
      rows.length = 0;
      body.replaceChildren();
      lastSeq = -Infinity;
      add(message.rows || [], 0);
      scroller.scrollTop = scroller.scrollHeight;
    } else if (message.kind === "append") {
      add((message.rows || []).filter((row) => row.seq > lastSeq), message.missed || 0);
    }
  };
  model.on("msg:custom", onMessage);
  model.send({ kind: "hello" }); // the kernel answers with the whole log
  return () => model.off("msg:custom", onMessage);
}

export default { render };
