/* The planner's workbench page: draws the units, keeps a selection, sends edits to
   the local server and redraws the figures it answers with. */
(function () {
  "use strict";
  const token = new URLSearchParams(location.search).get("token") || "";
  const $ = (id) => document.getElementById(id);
  let geo = null;        // units and territories, loaded once
  let state = null;      // the plan and its figures, after every edit
  let layers = [];       // Leaflet layer per unit position
  let selected = new Set();
  let boxing = false;
  let busy = false;

  async function api(path, body) {
    const opts = { headers: { "X-Token": token } };
    if (body !== undefined) {
      opts.method = "POST";
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    const res = await fetch(path, opts);
    const data = await res.json().catch(() => ({ error: res.statusText }));
    if (!res.ok) { throw new Error(data.error || res.statusText); }
    return data;
  }

  function say(text, ok) {
    const m = $("message");
    m.textContent = text || "";
    m.className = ok ? "ok" : "";
  }

  const fmt = (v, d) => v === null || v === undefined ? "" :
    Number(v).toLocaleString("en-US", { maximumFractionDigits: d === undefined ? 0 : d });
  const pct = (v) => v === null || v === undefined ? "" : (100 * v).toFixed(1) + " %";

  // ------------------------------------------------------------------ map
  const map = L.map("map", { preferCanvas: false, boxZoom: false, zoomSnap: 0.25 });

  function styleOf(i) {
    const t = state.columns[i];
    const terr = geo.territories[t];
    const locked = lockedSet.has(i) || fixedSet.has(i);
    const s = { fillColor: terr.colour, fillOpacity: 0.65, color: "#555", weight: 0.5,
                opacity: 1, dashArray: null };
    if (locked) { s.color = "#111"; s.weight = 2; s.dashArray = "4 3"; }
    if (proposed.has(i)) { s.color = "#e91e63"; s.weight = 3; s.dashArray = "2 3"; }
    if (selected.has(i)) { s.color = "#ffea00"; s.weight = 3.5; }  // a locked one stays dashed
    return s;
  }
  let lockedSet = new Set(), fixedSet = new Set(), proposed = new Set();

  function restyle(which) {
    (which || layers.map((_, i) => i)).forEach((i) => layers[i].setStyle(styleOf(i)));
    $("selected").textContent = selected.size + (selected.size === 1 ? " unit" : " units")
      + " selected";
  }

  function pick(i, add) {
    const before = [...selected];
    if (add) { selected.has(i) ? selected.delete(i) : selected.add(i); }
    else { selected = new Set([i]); }
    restyle([...new Set([...before, ...selected])]);
    const t = state.columns[i];
    if (!add) { $("picker").value = String(t); }
  }

  function drawUnits() {
    layers = new Array(geo.units.features.length);
    const group = L.geoJSON(geo.units, {
      style: () => ({ weight: 0.5 }),
      onEachFeature: (f, layer) => {
        const i = f.properties.i;
        layers[i] = layer;
        layer.on("click", (e) => {
          if (boxing) { return; }
          const ev = e.originalEvent;
          pick(i, ev.shiftKey || ev.ctrlKey || ev.metaKey);
          L.DomEvent.stopPropagation(e);
        });
        layer.bindTooltip(() => {
          const t = geo.territories[state.columns[i]];
          return `${f.properties.id}: ${t.label} (${t.rep_name}), ${f.properties.accounts} accounts`
            + (lockedSet.has(i) || fixedSet.has(i) ? ", locked" : "");
        }, { sticky: true });
      },
    });
    map.fitBounds(group.getBounds(), { padding: [10, 10] });  // a view before any path
    group.addTo(map);
    layers.forEach((layer, i) => {
      if (layer._path) { layer._path.setAttribute("data-unit", geo.units.features[i].properties.id); }
    });
    geo.territories.forEach((t) => {
      L.circleMarker([t.lat, t.lon], { radius: 5, color: "#000", weight: 2, fillColor: t.colour,
                                       fillOpacity: 1, interactive: false })
        .bindTooltip(`${t.rep_name} (${t.label})`, { permanent: false, className: "base" })
        .addTo(map);
    });
  }

  // rectangle selection: press B or the button, then drag
  let boxStart = null, boxRect = null;
  function setBoxing(on) {
    boxing = on;
    $("box").classList.toggle("on", on);
    $("map").classList.toggle("boxing", on);
    on ? map.dragging.disable() : map.dragging.enable();
  }
  map.on("mousedown", (e) => {
    if (!boxing) { return; }
    boxStart = e.latlng;
    boxRect = L.rectangle([boxStart, boxStart], { color: "#ff6f00", weight: 1, interactive: false })
      .addTo(map);
  });
  map.on("mousemove", (e) => {
    if (boxStart) { boxRect.setBounds([boxStart, e.latlng]); }
  });
  map.on("mouseup", (e) => {
    if (!boxStart) { return; }
    const box = L.latLngBounds(boxStart, e.latlng);
    map.removeLayer(boxRect);
    boxStart = null;
    const add = e.originalEvent.shiftKey;
    const before = [...selected];
    if (!add) { selected = new Set(); }
    layers.forEach((layer, i) => { if (box.contains(layer.getBounds().getCenter())) { selected.add(i); } });
    restyle([...new Set([...before, ...selected])]);
    setBoxing(false);
  });
  map.on("click", () => {
    if (!boxing && selected.size) { const before = [...selected]; selected = new Set(); restyle(before); }
  });

  // ------------------------------------------------------------------ figures
  function render(t0) {
    lockedSet = new Set(state.locks);
    fixedSet = new Set(state.fixed);
    proposed = new Set(state.proposal ? state.proposal.units : []);
    restyle();
    const f = state;
    const faults = f.faults.length;
    $("headline").innerHTML = "";
    const head = document.createElement("div");
    head.textContent = `objective ${fmt(f.objective)} (run: ${fmt(f.start_objective)})`
      + (f.gap === null ? "" : `, gap ${(100 * f.gap).toFixed(2)} % to the run's bound`)
      + `; ${fmt(f.changed)} accounts in ${fmt(f.changed_units)} units changed`
      + (f.moved === null ? "" : `; ${fmt(f.moved)} accounts moved from current owners`);
    const rules = document.createElement("div");
    rules.textContent = faults ? `${faults} rule${faults > 1 ? "s" : ""} broken: `
      + f.faults.slice(0, 4).join("; ") + (faults > 4 ? "; …" : "") : "every band, lock and "
      + "contiguity rule holds";
    rules.className = faults ? "bad" : "";
    $("headline").append(head, rules);
    $("undo").disabled = !f.can_undo;
    $("redo").disabled = !f.can_redo;
    drawChart();
    drawTable();
    drawLog();
    drawProposal();
    if (t0 !== undefined) {
      $("timing").textContent = `updated in ${Math.round(performance.now() - t0)} ms`
        + ` (figures ${f.ms.toFixed(0)} ms)`;
    }
  }

  function drawChart() {
    const chart = $("chart");
    chart.innerHTML = "";
    state.metrics.forEach((m) => {
      const name = document.createElement("div");
      name.className = "metric-name";
      name.textContent = m + ": % of target (band shaded, line at 100 %)";
      chart.append(name);
      const rows = state.territories;
      const ratio = (v, x) => x.target ? v / x.target : 0;
      // one scale for all: each territory's value as a share of its own target
      const top = Math.max(1.5, ...rows.map((r) => 1.05 * ratio(r.metrics[m].value, r.metrics[m])));
      rows.forEach((r, t) => {
        const x = r.metrics[m];
        const row = document.createElement("div");
        row.className = "bar-row";
        row.dataset.territory = r.territory;
        row.dataset.metric = m;
        const sw = document.createElement("div");
        sw.className = "swatch";
        sw.style.background = geo.territories[t].colour;
        const label = document.createElement("div");
        label.className = "label";
        label.textContent = `${r.territory} ${r.rep_name}`;
        label.title = label.textContent;
        const track = document.createElement("div");
        track.className = "track";
        const band = document.createElement("div");
        band.className = "band";
        const lo = Math.max(0, ratio(x.lower, x));
        const hi = x.upper === null ? top : Math.min(top, ratio(x.upper, x));
        band.style.left = (100 * lo / top) + "%";
        band.style.width = Math.max(0, 100 * (hi - lo) / top) + "%";
        const bar = document.createElement("div");
        bar.className = "bar" + (x.held ? "" : " out");
        bar.style.width = Math.min(100, 100 * ratio(x.value, x) / top) + "%";
        const target = document.createElement("div");
        target.className = "target";
        target.style.left = (100 / top) + "%";
        track.append(band, bar, target);
        const value = document.createElement("div");
        value.className = "value" + (x.held ? "" : " bad");
        value.textContent = x.target ? (100 * x.value / x.target).toFixed(1) + " %" : fmt(x.value);
        value.title = `${fmt(x.value, 1)} (band ${fmt(x.lower, 1)} to ${fmt(x.upper, 1)})`;
        row.append(sw, label, track, value);
        chart.append(row);
      });
    });
  }

  function drawTable() {
    const head = $("figures").tHead, body = $("figures").tBodies[0];
    const moved = state.moved !== null;
    head.innerHTML = "";
    const hr = head.insertRow();
    ["territory", "rep", "accounts", "pieces", "coverage", ...(moved ? ["moved"] : []), "changed"]
      .forEach((h) => { const th = document.createElement("th"); th.textContent = h; hr.append(th); });
    body.innerHTML = "";
    state.territories.forEach((r) => {
      const tr = body.insertRow();
      tr.dataset.territory = r.territory;
      const cells = [r.territory, r.rep_name, fmt(r.accounts),
                     r.pieces > 1 ? `${r.pieces} pieces` : "1", pct(r.coverage),
                     ...(moved ? [fmt(r.moved)] : []), fmt(r.changed)];
      cells.forEach((c, j) => {
        const td = tr.insertCell();
        td.textContent = c;
        if (j === 3 && r.pieces > 1) { td.className = "out"; td.title = "disconnected"; }
      });
    });
  }

  function drawLog() {
    const log = $("log");
    log.innerHTML = "";
    state.log.forEach((e) => {
      const li = document.createElement("li");
      li.textContent = `${e.at.slice(11, 19)} ${e.action} ${e.units || ""} ${e.note || ""}`;
      log.append(li);
    });
    log.scrollTop = log.scrollHeight;
  }

  function drawProposal() {
    const p = state.proposal;
    $("proposal").hidden = !p;
    if (!p) { return; }
    const accounts = p.changes.reduce((s, c) => s + c.accounts, 0);
    $("proposal-text").textContent = `Rebalance (${p.scope}, ${p.status}, `
      + `${p.seconds.toFixed(1)} s) would move ${p.changes.length} units (${accounts} accounts): `
      + `objective ${fmt(p.objective_before)} → ${fmt(p.objective_after)}; `
      + (p.faults.length ? `still broken: ${p.faults.join("; ")}` : "every rule holds")
      + ". Moved units are outlined in pink.";
  }

  // ------------------------------------------------------------------ actions
  async function act(path, body, done) {
    if (busy) { return; }
    busy = true;
    document.body.style.cursor = "progress";
    const t0 = performance.now();
    try {
      state = await api(path, body || {});
      render(t0);
      say(done ? done(state) : "", true);
    } catch (err) {
      say(err.message);
    } finally {
      busy = false;
      document.body.style.cursor = "";
    }
  }
  const ids = () => [...selected].map((i) => geo.units.features[i].properties.id);
  const territoryOfPicker = () => geo.territories[Number($("picker").value)].rep_id;

  function assign() {
    if (!selected.size) { say("select units first (click, shift-click or Box select)"); return; }
    act("/api/assign", { units: ids(), territory: territoryOfPicker() },
        (s) => `moved ${s.moved} unit${s.moved === 1 ? "" : "s"}`);
  }
  const lock = (locked) => {
    if (!selected.size) { say("select units first"); return; }
    act("/api/lock", { units: ids(), locked }, (s) => `${locked ? "locked" : "unlocked"} ${s.changed}`);
  };

  $("assign").onclick = assign;
  $("lock").onclick = () => lock(true);
  $("unlock").onclick = () => lock(false);
  $("lock-terr").onclick = () => act("/api/lock_territory",
    { territory: territoryOfPicker(), locked: true }, (s) => `locked ${s.changed} units`);
  $("undo").onclick = () => act("/api/undo", {}, () => "undone");
  $("redo").onclick = () => act("/api/redo", {}, () => "redone");
  $("rebalance").onclick = () => {
    say("rebalancing…", true);
    act("/api/rebalance", {}, (s) => s.proposal.changes.length ?
      "review the proposal, then Accept or Discard" : "nothing to change: the plan holds");
  };
  $("accept").onclick = () => act("/api/accept", {}, (s) => `accepted: ${s.moved} units moved`);
  $("discard").onclick = () => act("/api/discard", {}, () => "discarded");
  $("save").onclick = () => act("/api/save", {}, (s) => `saved to ${s.saved}`);
  $("box").onclick = () => setBoxing(!boxing);
  $("clear").onclick = () => { const b = [...selected]; selected = new Set(); restyle(b); };

  document.addEventListener("keydown", (e) => {
    if (e.target.tagName === "INPUT" || e.target.tagName === "SELECT") { return; }
    const k = e.key.toLowerCase();
    if ((e.ctrlKey || e.metaKey) && k === "z") { e.preventDefault(); (e.shiftKey ? $("redo") : $("undo")).click(); }
    else if ((e.ctrlKey || e.metaKey) && k === "y") { e.preventDefault(); $("redo").click(); }
    else if (e.ctrlKey || e.metaKey || e.altKey) { return; }
    else if (k === "enter") { assign(); }
    else if (k === "l") { lock(true); }
    else if (k === "u") { lock(false); }
    else if (k === "r") { $("rebalance").click(); }
    else if (k === "b") { setBoxing(!boxing); }
    else if (k === "escape") { setBoxing(false); $("clear").click(); }
  });

  // ------------------------------------------------------------------ start
  (async () => {
    try {
      geo = await api("/api/units");
      state = await api("/api/state");
      geo.territories.forEach((t, i) => {
        const o = document.createElement("option");
        o.value = String(i);
        o.textContent = `${t.label}: ${t.rep_name}`;
        $("picker").append(o);
      });
      drawUnits();
      render();
      document.body.dataset.ready = "1";
    } catch (err) {
      say("could not load the plan: " + err.message);
    }
  })();
})();
