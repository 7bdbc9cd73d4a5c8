// A panel client's log (see log_view.py): rows appended, newest last, auto-scrolled while
// the reader is at the bottom. Each message switches between UTF-8, hex, base64 and, for
// text that parses, pretty JSON; the log filters by direction, kind and text.

const DIRECTIONS = [["", "all directions"], ["→", "→ sent"], ["←", "← received"],
  ["•", "• connection"], ["✗", "✗ failures"]];
const KINDS = ["text", "bytes", "ping", "pong", "open", "close", "refused", "repeat", "error"];
const NAMES = { "→": "sent", "←": "received", "•": "event", "✗": "failure" };

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

function viewsOf(row) {
  const views = row.kind === "bytes" ? ["hex", "utf-8", "base64"] : ["utf-8", "hex", "base64"];
  if (asJson(row) !== null) views.push("json");
  return views;
}

function render({ model, el }) {
  el.classList.add("wsplay-client-log");
  const views = new Map(); // seq -> the view chosen for that message
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
  tools.append(direction, kind, search);
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
    if (!isMessage(row)) {
      cell.textContent = row.text;
      return cell;
    }
    const offered = viewsOf(row);
    const view = views.get(row.seq) || offered[0];
    const content = element(view === "json" ? "pre" : "span", "wsp-log-data", shown(row, view));
    if (row.cut) content.appendChild(element("i", "wsp-log-cut", ` … (only the start is kept)`));
    const switcher = element("span", "wsp-views");
    for (const name of offered) {
      const button = element("button", "wsp-view" + (name === view ? " wsp-view-on" : ""), name);
      button.title = `show this message as ${name}`;
      button.onclick = () => {
        views.set(row.seq, name);
        cell.replaceWith(dataCell(row));
      };
      switcher.appendChild(button);
    }
    cell.append(content, switcher);
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
