// wsplay's timeline picture: a sequence diagram with the server on the left and one lane per
// connection. Drawn by the panel's widget (an anywidget ESM: rows arrive as custom messages)
// and by pg.timeline.to_html (a standalone page: the same code, rows embedded).
// Rows are appended, never re-sent whole; each has a seq that only grows.

const TIME_W = 92;
const SERVER_W = 92;
const LANE_MIN = 120;
const LANE_MAX = 480;
const COLLAPSED_W = 30;
const FAN_OUT_WINDOW = 0.25; // seconds: the same message to several lanes is one fan-out
const LABEL_CHAR_W = 6.7; // px per character of a label (11 px monospace)

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function option(value, text) {
  const node = element("option", "", text);
  node.value = value;
  return node;
}

// The same test as RowFilter.matches in export.py.
export function matches(row, filters) {
  if (row.kind === "missed") return true;
  const conn = filters.connection;
  if (conn !== undefined && conn !== null && conn !== "" && row.conn !== Number(conn)) return false;
  if (filters.direction && row.dir !== filters.direction) return false;
  if (filters.kind && row.kind !== filters.kind) return false;
  const text = (filters.text || "").trim().toLowerCase();
  return !text || (row.label + " " + row.title).toLowerCase().includes(text);
}

// Consecutive copies of one message to several connections become one row with targets.
export function fanOut(rows) {
  const drawn = [];
  for (const row of rows) {
    const last = drawn[drawn.length - 1];
    if (
      last && row.kind === "message" && row.dir === "out" && last.kind === "message" &&
      last.dir === "out" && last.label === row.label &&
      Math.abs(row.time - last.time) < FAN_OUT_WINDOW && !last.targets.includes(row.conn)
    ) {
      last.targets.push(row.conn);
      continue;
    }
    drawn.push({ ...row, targets: [row.conn] });
  }
  return drawn;
}

function render({ model, el }) {
  el.classList.add("wsplay-timeline");
  if (model.get("page_url") !== undefined && model.get("page_url") !== window.location.href) {
    model.set("page_url", window.location.href); // the playground trusts this page's origin
    model.save_changes();
  }
  let rows = [];
  let lastSeq = -Infinity;
  const paths = { ...(model.get("paths") || {}) };
  const collapsed = new Map(); // conn -> true/false, once the learner has clicked a lane
  const filters = { ...(model.get("filters") || {}) };

  const tools = element("div", "wsp-tools");
  const connSelect = element("select", "wsp-f-conn");
  const dirSelect = element("select", "wsp-f-dir");
  dirSelect.append(option("", "both directions"), option("in", "→ to the server"),
    option("out", "← to clients"));
  const kindSelect = element("select", "wsp-f-kind");
  // The kinds are the Python side's (store.Kind), sent with the rows: one list, not two.
  const kinds = model.get("kinds") || [];
  kindSelect.append(option("", "every kind"), ...kinds.map((kind) => option(kind, kind)));
  const search = element("input", "wsp-f-text");
  search.type = "search";
  search.placeholder = "search the timeline";
  const count = element("span", "wsp-count");
  tools.append(connSelect, dirSelect, kindSelect, search, count);
  const scroller = element("div", "wsp-scroll");
  el.replaceChildren(tools, scroller);
  dirSelect.value = filters.direction || "";
  kindSelect.value = filters.kind || "";
  search.value = filters.text || "";

  const changed = () => {
    filters.connection = connSelect.value === "" ? null : Number(connSelect.value);
    filters.direction = dirSelect.value;
    filters.kind = kindSelect.value;
    filters.text = search.value;
    model.set("filters", { ...filters }); // the kernel sends the matches of the whole timeline
    model.save_changes();
    draw();
  };
  for (const control of [connSelect, dirSelect, kindSelect]) control.onchange = changed;
  search.oninput = changed;

  const laneIds = () => {
    const ids = new Set(rows.filter((r) => r.conn > 0).map((r) => r.conn));
    return [...ids].sort((a, b) => a - b);
  };
  // Connections that ended: closed, or refused at the handshake.
  const closedIds = () => new Set(rows.filter((r) => r.kind === "close" || r.kind === "reject")
    .map((r) => r.conn));

  const fillConnections = (ids) => {
    const chosen = connSelect.value || (filters.connection ?? "");
    const known = new Set(ids.map(String));
    if (chosen !== "" && !known.has(String(chosen))) ids = [...ids, Number(chosen)];
    connSelect.replaceChildren(option("", "all connections"),
      ...ids.map((id) => option(String(id), `#${id} ${paths[id] || ""}`.trim())));
    connSelect.value = String(chosen);
  };

  const draw = () => {
    const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 30;
    const ids = laneIds();
    fillConnections(ids);
    const closed = closedIds();
    // A closed connection's lane starts narrow: the room goes to the ones still talking.
    const narrow = (id) => collapsed.has(id) ? collapsed.get(id) : closed.has(id);
    const open = ids.filter((id) => !narrow(id)).length;
    const room = Math.max(0, (scroller.clientWidth || 800) - TIME_W - SERVER_W - 4);
    const laneW = Math.max(LANE_MIN, Math.min(LANE_MAX,
      (room - (ids.length - open) * COLLAPSED_W) / Math.max(open, 1)));
    const x = new Map();
    let left = TIME_W + SERVER_W;
    const serverX = TIME_W + SERVER_W / 2;
    const widths = new Map();
    for (const id of ids) {
      const width = narrow(id) ? COLLAPSED_W : laneW;
      widths.set(id, width);
      x.set(id, left + width / 2);
      left += width;
    }
    // At least the width shown: a label may run on over the room right of a narrow lane.
    const total = Math.max(left, TIME_W + SERVER_W + Math.max(LANE_MIN, room));
    const canvas = element("div", "wsp-canvas");
    canvas.style.width = total + "px";

    const head = element("div", "wsp-head");
    head.style.width = total + "px";
    const timeHead = element("div", "wsp-time", "time");
    const serverHead = element("div", "wsp-lane-head wsp-server-head", "server");
    serverHead.style.left = TIME_W + "px";
    serverHead.style.width = SERVER_W + "px";
    head.append(timeHead, serverHead);
    for (const id of ids) {
      const label = narrow(id) ? `#${id}` : `#${id} ${paths[id] || ""}`.trim();
      const lane = element("div", "wsp-lane-head" + (narrow(id) ? " wsp-collapsed" : ""), label);
      lane.style.left = x.get(id) - widths.get(id) / 2 + "px";
      lane.style.width = widths.get(id) + "px";
      lane.title = `connection #${id} ${paths[id] || ""}: click to ${narrow(id) ? "widen" : "narrow"} its lane`;
      lane.onclick = () => { collapsed.set(id, !narrow(id)); draw(); };
      head.appendChild(lane);
    }
    canvas.appendChild(head);

    const body = element("div", "wsp-body");
    for (const [id, at] of [[0, serverX], ...ids.map((id) => [id, x.get(id)])]) {
      const life = element("div", id === 0 ? "wsp-lifeline wsp-server-line" : "wsp-lifeline");
      life.style.left = at + "px";
      body.appendChild(life);
    }
    const shown = fanOut(rows.filter((row) => matches(row, filters)));
    for (const row of shown) body.appendChild(drawRow(row, x, widths, serverX, total));
    if (shown.length === 0) {
      const empty = element("div", "wsp-empty",
        rows.length ? "Nothing matches the filter." : "No conversation yet: connect a client.");
      body.appendChild(empty);
    }
    canvas.appendChild(body);
    const keepLeft = scroller.scrollLeft;
    scroller.replaceChildren(canvas);
    scroller.scrollLeft = keepLeft;
    const events = shown.filter((r) => r.kind !== "missed").length;
    count.textContent = `${events} shown, newest last`;
    if (atBottom) scroller.scrollTop = scroller.scrollHeight;
  };

  const onMessage = (message) => {
    if (!message || (message.kind !== "reset" && message.kind !== "append")) return;
    Object.assign(paths, message.paths || {});
    let fresh = message.rows || [];
    if (message.kind === "reset") {
      rows = [];
      lastSeq = -Infinity;
    } else {
      fresh = fresh.filter((row) => row.seq > lastSeq); // crossed a reset on the wire
      if (message.missed && fresh.length) {
        rows.push({ seq: fresh[0].seq - 0.5, kind: "missed", conn: 0, dir: "", label:
          `⋯ ${message.missed} more events recorded meanwhile, not drawn (pg.timeline keeps them)`, title: "", time: 0 });
      }
    }
    for (const row of fresh) {
      if (row.path) paths[row.conn] = row.path;
      rows.push(row);
      lastSeq = Math.max(lastSeq, row.seq);
    }
    const keep = model.get("max_rows") || 200;
    if (rows.length > keep) rows = rows.slice(rows.length - keep);
    draw();
  };
  model.on("msg:custom", onMessage);
  if (typeof ResizeObserver !== "undefined") {
    let width = 0;
    new ResizeObserver(() => {
      if (scroller.clientWidth !== width) { width = scroller.clientWidth; draw(); }
    }).observe(scroller);
  }
  draw();
  model.send({ kind: "hello" }); // the kernel answers with the backlog
  return () => model.off && model.off("msg:custom", onMessage);
}

function drawRow(row, x, widths, serverX, total) {
  const line = element("div", `wsp-row wsp-${row.kind}`);
  line.title = row.targets && row.targets.length > 1
    ? `server → ${row.targets.map((id) => "#" + id).join(", ")}: ${row.label}` : row.title;
  line.style.width = total + "px";
  line.appendChild(element("div", "wsp-time", row.t || ""));
  const stage = element("div", "wsp-stage");
  const targets = (row.targets || [row.conn]).filter((id) => x.has(id));
  const far = targets.length ? Math.max(...targets.map((id) => x.get(id))) : total - 8;
  const arrow = element("div", `wsp-arrow wsp-dir-${row.dir || "none"}`);
  const from = serverX;
  arrow.style.left = from + "px";
  arrow.style.width = Math.max(far - from, 24) + "px";
  const label = row.targets && row.targets.length > 1
    ? `${row.label} → ${row.targets.length} clients` : row.label;
  const text = element("div", "wsp-label", label);
  if (targets.length) {
    // A row holds one event, so a label too long for its arrow may run on to the right
    // over the empty lanes; one that fits stays centred over its arrow.
    const farId = targets.find((id) => x.get(id) === far);
    const room = far - from + widths.get(farId) / 2 - 12;
    if (label.length * LABEL_CHAR_W > room) {
      text.style.textAlign = "left";
      text.style.right = -(total - far - 6) + "px";
    } else {
      text.style.right = -(widths.get(farId) / 2 - 6) + "px";
    }
  }
  arrow.appendChild(text);
  if (row.dir && targets.length) {
    const shaft = element("div", row.dropped ? "wsp-line wsp-dotted" : "wsp-line");
    arrow.appendChild(shaft);
    const heads = row.dir === "in" ? [from] : targets.map((id) => x.get(id));
    for (const at of heads) {
      const head = element("div", row.dir === "in" ? "wsp-head-in" : "wsp-head-out");
      head.style.left = at - from + "px";
      arrow.appendChild(head);
    }
    if (row.dir === "in") {
      const tail = element("div", "wsp-dot");
      tail.style.left = far - from + "px";
      arrow.appendChild(tail);
    }
  }
  stage.appendChild(arrow);
  line.appendChild(stage);
  return line;
}

// A page of its own (pg.timeline.to_html): the same picture, rows given, filters local.
function standalone(el, rows, paths, kinds) {
  const listeners = [];
  const state = { max_rows: Math.max(rows.length, 1), filters: {}, paths, kinds };
  const model = {
    get: (name) => state[name],
    set: (name, value) => { state[name] = value; },
    save_changes: () => {},
    send: () => {},
    on: (name, callback) => { if (name === "msg:custom") listeners.push(callback); },
  };
  render({ model, el });
  for (const listener of listeners) listener({ kind: "reset", rows });
}

export default { render };
