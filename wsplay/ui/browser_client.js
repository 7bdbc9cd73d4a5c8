// wsplay's browser client: the page's own WebSocket (see browser_client.py).
// The kernel hands out each connection's id; this page opens the socket, logs what it
// sees, and reports it back so the playground's timeline has the page's side too.

// Measured with jupyter-server-proxy 4.6.0 (README, "Where it runs").
const PROXY_NOTE =
  "It accepts the first subprotocol offered before your handler chooses, and does not " +
  "pass close codes on: each side sees 1005.";
const MAX_NOTES = 6;
const REPORT_DELAY_MS = 50; // how late a report to the kernel may be
const REPORT_BATCH = 500; // reports sent at once at most

function isLoopback(host) {
  return host === "localhost" || host === "[::1]" || host === "::1" || /^127\./.test(host);
}

// The Jupyter server's base URL, from the page Jupyter served (JupyterLab, Notebook 7).
function jupyterBaseUrl() {
  const config = document.getElementById("jupyter-config-data");
  if (!config) return null;
  try {
    return JSON.parse(config.textContent).baseUrl || "/";
  } catch {
    return null;
  }
}

export function chooseRoute(route, hubPrefix) {
  if (route === "direct" || route === "proxy") return route;
  if (hubPrefix) return "proxy"; // behind a hub the browser is not on the kernel's machine
  if (isLoopback(location.hostname)) return "direct";
  // A Jupyter server elsewhere can proxy; a page it did not serve (VS Code) cannot.
  return jupyterBaseUrl() !== null ? "proxy" : "direct";
}

export function socketUrl(route, port, path, hubPrefix) {
  if (route === "direct") return `ws://127.0.0.1:${port}${path}`;
  let base = jupyterBaseUrl() ?? (hubPrefix || "/");
  if (!base.endsWith("/")) base += "/";
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${base}proxy/${port}${path}`;
}

// The kernel's one-time ticket for this connection's id (never the bare id: see connections.py).
function withTicket(url, ticket) {
  return `${url}${url.includes("?") ? "&" : "?"}wsplay-connection=${encodeURIComponent(ticket)}`;
}

// A page may close only with 1000 or 3000-4999 (the browser throws on any other code).
export function checkClose(codeText, reason) {
  const code = Number(codeText.trim());
  if (!Number.isInteger(code) || !(code === 1000 || (code >= 3000 && code <= 4999))) {
    return [null, "A page can close only with 1000 or 3000-4999 (the browser refuses other codes): try 4000."];
  }
  if (new TextEncoder().encode(reason).length > 123) {
    return [null, "A close reason is at most 123 bytes of UTF-8: shorten it."];
  }
  return [code, null];
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function input(className, value, placeholder) {
  const node = element("input", className);
  node.type = "text";
  node.value = value;
  node.placeholder = placeholder;
  return node;
}

function toBase64(buffer) {
  let text = "";
  for (const byte of new Uint8Array(buffer)) text += String.fromCharCode(byte);
  return btoa(text);
}

function hex(buffer) {
  const shown = Array.from(new Uint8Array(buffer, 0, Math.min(40, buffer.byteLength)),
    (b) => b.toString(16).padStart(2, "0")).join(" ");
  return buffer.byteLength > 40 ? shown + " …" : shown;
}

// The start of a text, never half of a surrogate pair (an emoji cut in two).
function startOf(text, length) {
  const end = /[\uD800-\uDBFF]/.test(text[length - 1] || "") ? length - 1 : length;
  return text.slice(0, end);
}

// Characters as Python counts them (code points), for the size the timeline records.
function codePoints(text) {
  return text.length - (text.match(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g) || []).length;
}

// What the page tells the kernel of a message: its start and its size, never a whole long
// payload (a 20 MB message sent back over the comm would cost the page its kernel).
export function reportOf(data, limit) {
  if (typeof data === "string") {
    if (data.length <= limit) return { text: data };
    return { text: startOf(data, limit), size: codePoints(data) };
  }
  const kept = data.byteLength <= limit ? data : data.slice(0, limit);
  return data.byteLength <= limit ? { base64: toBase64(kept) } : { base64: toBase64(kept), size: data.byteLength };
}

function render({ model, el }) {
  const view = Math.random().toString(36).slice(2);
  let socket = null;
  let current = 0; // the id of this view's connection
  let closedByPage = false;

  el.classList.add("wsplay-browser-client");
  const title = element("div", "wsp-bc-title", "Browser client ");
  title.appendChild(element("small", "", "(a WebSocket opened by this page's own JavaScript)"));
  const route = element("div", "wsp-bc-route");
  const path = input("wsp-bc-path", model.get("path"), "/path");
  const protocols = input("wsp-bc-subprotocols", model.get("subprotocols"), "chat.v2, chat.v1");
  const connect = element("button", "wsp-bc-connect", "Connect");
  const status = element("span", "wsp-bc-status", "○ not connected");
  const connectError = element("div", "wsp-bc-error");
  const payload = element("textarea", "wsp-bc-payload");
  payload.placeholder = "hello";
  const send = element("button", "wsp-bc-send", "Send");
  const code = input("wsp-bc-code", "1000", "code");
  const reason = input("wsp-bc-reason", "", "reason");
  const close = element("button", "wsp-bc-close", "Close");
  const closeError = element("div", "wsp-bc-error");
  const notes = element("div", "wsp-bc-notes");
  const log = element("table", "wsp-bc-log");

  const row = (...children) => {
    const line = element("div", "wsp-bc-row");
    for (const child of children) line.appendChild(child);
    return line;
  };
  el.append(
    title, route,
    row(element("label", "", "Path"), path, element("label", "", "Subprotocols"), protocols),
    row(connect, status), connectError,
    payload, row(send),
    row(element("label", "", "Code"), code, reason, close), closeError,
    notes, log,
  );

  // Newest first; a note may come after the next connection has started, so keep a few.
  const note = (id, text) => {
    notes.insertBefore(element("div", "wsp-bc-note", `#${id}: ${text}`), notes.firstChild);
    while (notes.childElementCount > MAX_NOTES) notes.lastChild.remove();
  };
  // The log keeps the newest max_rows rows (newest first); below them, how many went.
  const earlier = element("tr", "wsp-bc-earlier");
  earlier.appendChild(element("td"));
  earlier.firstChild.colSpan = 4;
  let dropped = 0;
  const entry = (direction, kind, text, cut = "") => {
    const line = element("tr", "wsp-bc-" + kind);
    const now = new Date();
    const stamp = now.toTimeString().slice(0, 8) + "." + String(now.getMilliseconds()).padStart(3, "0");
    for (const cell of [stamp, direction, kind, text]) line.appendChild(element("td", "", cell));
    if (cut) line.lastChild.appendChild(element("i", "wsp-bc-cut", cut));
    log.insertBefore(line, log.firstChild); // newest first, always in view
    const keep = model.get("max_rows");
    if (log.rows.length <= keep) return;
    if (!earlier.isConnected) log.appendChild(earlier);
    while (log.rows.length - 1 > keep) {
      earlier.previousSibling.remove();
      dropped += 1;
    }
    earlier.firstChild.textContent = `⋯ ${dropped} earlier messages not shown (the log keeps the newest ${keep})`;
  };
  // A text message as the log shows it: the start of a long one, and its size in bytes.
  const textEntry = (direction, text) => {
    const limit = model.get("max_text");
    if (text.length <= limit) {
      entry(direction, "text", text);
    } else {
      const size = new Blob([text]).size; // UTF-8 bytes, counted natively
      entry(direction, "text", startOf(text, limit), ` … (${size} B in all: only the start is shown)`);
    }
  };
  const reportMessage = (direction, data) =>
    report({ event: "message", direction, ...reportOf(data, model.get("report_limit")) });
  // Reports go to the kernel in order. A message that follows another within
  // REPORT_DELAY_MS waits for the next batch, so a flood is a few comm messages a second,
  // not one per message; anything else (open, close) goes at once, with what waits.
  let reports = [];
  let lastSent = -Infinity;
  const flushReports = () => {
    if (reports.length) model.send({ reports });
    reports = [];
    lastSent = performance.now();
  };
  const report = (fields) => {
    reports.push({ id: current, ...fields });
    const quiet = performance.now() - lastSent >= REPORT_DELAY_MS;
    if (fields.event !== "message" || quiet || reports.length >= REPORT_BATCH) flushReports();
    else if (reports.length === 1) setTimeout(flushReports, REPORT_DELAY_MS);
  };
  const describeRoute = () => {
    const chosen = chooseRoute(model.get("route"), model.get("hub_prefix"));
    route.textContent = chosen === "direct"
      ? "Route: directly to the playground on 127.0.0.1"
      : "Route: through jupyter-server-proxy. " + PROXY_NOTE;
    return chosen;
  };
  const refresh = () => {
    const open = socket !== null && socket.readyState === WebSocket.OPEN;
    connect.disabled = socket !== null;
    send.disabled = close.disabled = !open;
  };
  describeRoute();
  refresh();

  connect.onclick = () => {
    connectError.textContent = "";
    connect.disabled = true;
    model.send({ do: "connect", path: path.value, subprotocols: protocols.value, view });
  };

  const open = ({ id, ticket, port, path: target }, offered) => {
    const chosen = describeRoute();
    const url = socketUrl(chosen, port, target, model.get("hub_prefix"));
    current = id;
    closedByPage = false;
    model.set("url", url);
    model.save_changes();
    status.textContent = "… connecting to " + url;
    let opened = false;
    socket = offered.length ? new WebSocket(withTicket(url, ticket), offered) : new WebSocket(withTicket(url, ticket));
    socket.binaryType = "arraybuffer";
    socket.onopen = () => {
      opened = true;
      const proto = socket.protocol ? ` with subprotocol '${socket.protocol}'` : "";
      status.textContent = `● open #${id}${proto}`;
      entry("•", "open", `connected to ${url} (#${id})${proto}`);
      report({ event: "open", protocol: socket.protocol, url });
      refresh();
    };
    socket.onmessage = (message) => {
      if (typeof message.data === "string") {
        textEntry("←", message.data);
      } else {
        entry("←", "bytes", `${message.data.byteLength} B: ${hex(message.data)}`);
      }
      reportMessage("out", message.data);
    };
    socket.onclose = (event) => {
      socket = null;
      refresh();
      if (!opened) {
        status.textContent = "✗ could not connect";
        entry("✗", "refused", `could not connect to ${url} (the browser says ${event.code}, and hides why)`);
        report({ event: "close", opened: false, code: event.code });
        return;
      }
      const why = event.reason ? ` '${event.reason}'` : "";
      const by = closedByPage ? "the page" : event.wasClean ? "the server" : "nobody (dropped)";
      status.textContent = `○ closed: ${event.code}`;
      entry("•", "close", `closed by ${by}: ${event.code}${why}`);
      if (!closedByPage) {
        report({ event: "close", opened: true, by: event.wasClean ? "server" : "dropped", code: event.code, reason: event.reason });
      }
    };
  };

  send.onclick = () => {
    if (socket === null || socket.readyState !== WebSocket.OPEN) return;
    socket.send(payload.value);
    textEntry("→", payload.value);
    reportMessage("in", payload.value);
  };

  close.onclick = () => {
    closeError.textContent = "";
    const [value, problem] = checkClose(code.value, reason.value);
    if (problem) {
      closeError.textContent = "⚠ " + problem;
      return;
    }
    if (socket === null) return;
    closedByPage = true;
    report({ event: "close", opened: true, by: "client", code: value, reason: reason.value });
    socket.close(value, reason.value);
  };

  model.on("msg:custom", (content) => {
    if (content.view !== undefined && content.view !== view) return; // another view's
    if (content.error) {
      connectError.textContent = "⚠ " + content.error;
      refresh();
    } else if (content.open) {
      open(content.open, content.subprotocols || []);
    } else if (content.note) {
      note(content.id, content.note);
    }
  });
  model.on("change:route", describeRoute);
}

export default { render };
