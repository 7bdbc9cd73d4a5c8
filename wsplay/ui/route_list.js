// The panel's routes (see route_list.py): a click on one fills a client's path box with a
// path the route matches, and selects the example value in it, ready to type over. The
// client is the one whose path box was used last, else the first.

function render({ model, el }) {
  const box = document.createElement("div");
  box.className = "wsplay-routes";
  el.replaceChildren(box);
  let lastUsed = null; // the path box a learner touched last, in this panel

  const panel = () => el.closest(".wsplay-panel");
  const pathBoxes = () => Array.from(panel()?.querySelectorAll(".wsplay-path input") || []);
  const watch = () => {
    const root = panel();
    if (!root || root.dataset.wsplayRoutesWatched) return;
    root.dataset.wsplayRoutesWatched = "1";
    root.addEventListener("focusin", (event) => {
      if (event.target.matches?.(".wsplay-path input")) lastUsed = event.target;
    });
  };

  const pick = (index, route) => {
    watch();
    const boxes = pathBoxes();
    const input = boxes.includes(lastUsed) ? lastUsed : boxes[0];
    if (input) {
      // As if typed: the box's own model has the path before the kernel hears the pick,
      // so the kernel's pick changes nothing and cannot undo what the learner types next.
      input.value = route.path;
      input.dispatchEvent(new Event("input", { bubbles: true }));
    }
    model.send({ kind: "pick", index, client: Math.max(0, boxes.indexOf(input)) });
    if (!input) return;
    input.focus();
    if (route.select) input.setSelectionRange(route.select[0], route.select[1]);
  };

  const draw = () => {
    watch();
    const routes = model.get("routes");
    const title = document.createElement("b");
    title.textContent = "Routes";
    box.replaceChildren(title);
    if (!routes.length) {
      const none = document.createElement("i");
      none.textContent = 'none yet: define one with @ws("/echo")';
      box.appendChild(none);
      return;
    }
    routes.forEach((route, index) => {
      const button = document.createElement("button");
      button.textContent = route.pattern;
      button.title = route.select
        ? `Put ${route.path} in the path box, ${route.path.slice(...route.select)} selected: type the value you want`
        : `Put ${route.path} in the path box`;
      button.onclick = () => pick(index, route);
      box.appendChild(button);
    });
  };
  model.on("change:routes", draw);
  draw();
  requestAnimationFrame(watch); // the panel's element exists once the page shows it
}

export default { render };
