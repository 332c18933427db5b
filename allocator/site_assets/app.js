/* The public donation page (static site). Data comes from data/summary.js and
   data/trails/NNN.js, written by allocator.site from a published snapshot.
   Every text from the data is set with textContent, never as HTML. */
"use strict";
(function () {
  const SA = (window.SA = window.SA || {});
  let model = null;
  let lang = "zh";
  let totalsBy = "item";
  const shards = {};
  const waiting = {};

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") node.textContent = v;
      else if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }
  function byId(id) { return document.getElementById(id); }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }
  function t(key, params) {
    const cat = model.catalogue[lang] || {};
    const tpl = cat[key] !== undefined ? cat[key] : key;
    return tpl.replace(/\{(\w+)\}/g, (m, name) => (params && params[name] !== undefined ? String(params[name]) : m));
  }
  function fmt(n) { return Number(n || 0).toLocaleString(lang === "zh" ? "zh-CN" : "en-US"); }
  function nameOf(table, id) {
    const row = (model[table] || []).find((r) => r[table === "items" ? "item_id" : "site_id"] === id);
    if (!row) return id;
    if (lang === "zh" && row.name_zh) return row.name_zh;
    return row.name || id;
  }
  function donorName(d) { return d === "anonymous" ? t("public.anonymous") : d; }
  function eventName(ev) {
    const key = "public.event." + ev;
    return model.catalogue[lang][key] !== undefined ? t(key) : t("public.event.other", { event: ev });
  }

  function setLang(l) {
    lang = l;
    document.documentElement.lang = l;
    try { localStorage.setItem("sa-lang", l); } catch (e) { /* storage may be off */ }
    render();
  }

  function renderLangs() {
    const box = clear(byId("langs"));
    for (const l of model.languages) {
      box.append(el("button", { type: "button", "aria-pressed": String(l === lang), "data-lang": l,
        text: model.catalogue[l]["lang.name"], onclick: () => setLang(l) }));
    }
  }

  function renderStatus() {
    const s = model.snapshot;
    const box = clear(byId("status"));
    box.append(el("h2", { text: t("public.snapshot") }));
    box.append(el("p", { id: "verify-status", class: s.verified ? "ok" : "bad",
      text: s.verified ? t("public.verified") : t("public.not_verified", { message: s.message }) }));
    const dl = el("table", { class: "kv" });
    const rows = [[t("public.published_at"), s.published_at], [t("public.entries"), fmt(s.head_seq)],
      [t("public.head"), s.head_hash]];
    for (const [k, v] of rows) dl.append(el("tr", {}, el("th", { text: k }), el("td", { class: k === t("public.head") ? "hash" : "", text: v })));
    box.append(dl);
    box.append(el("p", { text: s.previous && Number(s.previous.seq) > 0
      ? t(s.extends_checked ? "public.extends" : "public.previous_named", { seq: s.previous.seq }) : t("public.no_previous") }));
    if (s.public_key) box.append(el("p", {}, t("public.signature_ok", { fingerprint: "" }), el("code", { text: String(s.public_key) })));
    box.append(el("p", { class: "muted", text: t("public.recheck") }));
    box.append(el("code", { id: "recheck", text: "pip install supply-allocator && allocator verify downloads/" }));
  }

  function table(columns, rows, opts) {
    const tbl = el("table", opts || {});
    const head = el("tr");
    for (const c of columns) head.append(el("th", { class: c.num ? "num" : "", text: c.label }));
    tbl.append(el("thead", {}, head));
    const body = el("tbody");
    for (const r of rows) {
      const tr = el("tr");
      for (const c of columns) {
        const v = c.value(r);
        if (c.bar) {
          const pct = c.max ? Math.round((100 * (Number(v) || 0)) / c.max) : 0;
          const fill = el("div", { class: "barfill" });
          fill.style.width = pct + "%";
          tr.append(el("td", { class: "num barcell", "data-col": c.key }, fill, el("span", { text: fmt(v) })));
        } else {
          tr.append(el("td", { class: c.num ? "num" : "", "data-col": c.key, text: c.num && v !== "" ? fmt(v) : String(v) }));
        }
      }
      body.append(tr);
    }
    tbl.append(body);
    return tbl;
  }

  function renderTotals() {
    byId("totals-title").textContent = t("public.totals");
    const tabs = clear(byId("totals-tabs"));
    for (const [by, key] of [["item", "public.by_item"], ["donor", "public.by_donor"], ["site", "public.by_site"]]) {
      tabs.append(el("button", { type: "button", role: "tab", "aria-selected": String(by === totalsBy), "data-by": by,
        text: t(key), onclick: () => { totalsBy = by; renderTotals(); } }));
    }
    const rows = model.totals[totalsBy];
    const first = totalsBy === "item"
      ? { key: "item_id", label: t("public.col.item"), value: (r) => nameOf("items", r.item_id) }
      : totalsBy === "donor"
        ? { key: "donor", label: t("public.col.donor"), value: (r) => donorName(r.donor) }
        : { key: "site_id", label: t("public.col.site"), value: (r) => nameOf("sites", r.site_id) };
    const numeric = totalsBy === "site" ? ["allocated", "dispatched", "delivered", "donations"]
      : ["received", "passed", "allocated", "delivered", "in_stock", "written_off", "donations"];
    const barKey = totalsBy === "site" ? "delivered" : "received";
    const max = Math.max(0, ...rows.map((r) => Number(r[barKey]) || 0));
    const cols = [first, ...numeric.map((k) => ({ key: k, num: true, bar: k === barKey, max,
      label: t("public.col." + k), value: (r) => r[k] }))];
    clear(byId("totals")).append(table(cols, rows, { id: "totals-table", "data-by": totalsBy }));
  }

  function search(q) {
    const fold = (s) => String(s || "").normalize("NFKC").toLowerCase().trim();
    const f = fold(q);
    if (!f) return [];
    const hits = model.donations.filter((d) => fold(d.donation_id).includes(f) || (d.code && fold(d.code).includes(f)) || fold(d.donor).includes(f));
    hits.sort((a, b) => ((fold(b.donation_id) === f || fold(b.code) === f) - (fold(a.donation_id) === f || fold(a.code) === f)) || a.donation_id.localeCompare(b.donation_id));
    return hits.slice(0, 50);
  }

  function renderResults(q) {
    const box = clear(byId("results"));
    if (!q) return;
    const hits = search(q);
    if (!hits.length) { box.append(el("p", { text: t("public.no_match", { query: q }) })); return; }
    box.append(el("p", { class: "muted", text: t("public.matches", { n: hits.length }) }));
    for (const d of hits) {
      const label = [d.donation_id, d.code, donorName(d.donor), (d.items || "").split(";").map((i) => nameOf("items", i)).join("、")].filter(Boolean).join(" · ");
      box.append(el("div", { class: "result" }, el("span", { text: label }),
        el("button", { type: "button", "data-donation": d.donation_id, text: t("public.open_trail"), onclick: () => openTrail(d.donation_id) })));
    }
  }

  function loadShard(i, then) {
    if (shards[i]) { then(shards[i]); return; }
    (waiting[i] = waiting[i] || []).push(then);
    if (waiting[i].length > 1) return;
    const s = document.createElement("script");
    s.src = "data/trails/" + String(i).padStart(3, "0") + ".js";
    document.body.append(s);
  }
  SA.trails = function (i, part) {
    shards[i] = part;
    for (const fn of waiting[i] || []) fn(part);
    waiting[i] = [];
  };

  function openTrail(did) {
    const d = model.donations.find((x) => x.donation_id === did);
    if (!d) return;
    if (location.hash !== "#d=" + encodeURIComponent(did)) history.replaceState(null, "", "#d=" + encodeURIComponent(did));
    loadShard(d.shard, (part) => renderTrail(d, part[did]));
  }

  function renderTrail(d, tr) {
    const box = clear(byId("trail"));
    box.hidden = false;
    box.append(el("h2", { id: "trail-title", text: t("public.trail", { donation_id: d.donation_id }) }));
    box.append(el("p", { text: [d.code, donorName(d.donor), d.date].filter(Boolean).join(" · ") }));
    if (!tr || !tr.events.length) { box.append(el("p", { text: t("public.trail_empty") })); return; }
    const cols = [
      { key: "at", label: t("public.col.date"), value: (r) => (r.event === "pledged" && d.date ? d.date : String(r.at).slice(0, 19).replace("T", " ")) },
      { key: "event", label: t("public.col.event"), value: (r) => eventName(r.event) },
      { key: "item_id", label: t("public.col.item"), value: (r) => (r.item_id ? nameOf("items", r.item_id) : "") },
      { key: "quantity", label: t("public.col.quantity"), num: true, value: (r) => (r.event === "pledged" ? "" : r.quantity) },
      { key: "site_id", label: t("public.col.site"), value: (r) => (r.site_id ? nameOf("sites", r.site_id) : r.depot_id) },
      { key: "detail", label: t("public.col.detail"), value: (r) => detail(r) },
    ];
    box.append(el("div", { class: "scroll" }, table(cols, tr.events, { id: "trail-table" })));
    const st = tr.stock;
    box.append(el("p", { id: "trail-stock", text: t("public.stock_note", { available: fmt(st.available), quarantined: fmt(st.quarantined), written_off: fmt(st.written_off) }) }));
    const reached = [...new Set(tr.events.filter((e) => e.site_id).map((e) => e.site_id))];
    renderMap(reached);
    box.scrollIntoView({ block: "start" });
  }

  function detail(r) {
    if (r.event === "inspected") {
      const k = "public.inspection." + r.detail;
      return model.catalogue[lang][k] !== undefined ? t(k) : r.detail;
    }
    if (r.event === "delivered" && r.detail) return /site|receiver/.test(r.detail) ? t("public.confirmed_by_site") : t("public.confirmed_by_dispatch");
    if (r.event === "pledged" && r.detail) return t("public.earmark", { to: r.detail.split(";").map((x) => nameOf("sites", x)).join("、") });
    return r.detail || "";
  }

  function renderMap(highlight) {
    byId("map-title").textContent = t("public.map");
    const box = clear(byId("map"));
    const pts = (model.sites || []).filter((s) => s.lat !== undefined && s.lat !== "" && s.lon !== undefined && s.lon !== "")
      .map((s) => ({ id: s.site_id, lat: Number(s.lat), lon: Number(s.lon) })).filter((p) => isFinite(p.lat) && isFinite(p.lon));
    if (!pts.length) { box.append(el("p", { class: "muted", text: t("public.no_map") })); return; }
    const lats = pts.map((p) => p.lat), lons = pts.map((p) => p.lon);
    const [x0, x1, y0, y1] = [Math.min(...lons), Math.max(...lons), Math.min(...lats), Math.max(...lats)];
    const W = 800, H = 480, pad = 24;
    const sx = (W - 2 * pad) / Math.max(1e-6, x1 - x0), sy = (H - 2 * pad) / Math.max(1e-6, y1 - y0), s = Math.min(sx, sy);
    const NS = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(NS, "svg");
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", t("public.map"));
    const hl = new Set(highlight || []);
    for (const p of pts) {
      const c = document.createElementNS(NS, "circle");
      c.setAttribute("cx", String(pad + (p.lon - x0) * s));
      c.setAttribute("cy", String(H - pad - (p.lat - y0) * s));
      c.setAttribute("r", hl.has(p.id) ? "8" : "4");
      c.setAttribute("fill", hl.has(p.id) ? "#b3261e" : "#8a94a3");
      const title = document.createElementNS(NS, "title");
      title.textContent = nameOf("sites", p.id);
      c.append(title);
      svg.append(c);
    }
    box.append(svg);
  }

  function renderReceipt() {
    byId("receipt-title").textContent = t("public.receipt");
    byId("receipt-input").placeholder = t("public.receipt_hint");
    byId("receipt-button").textContent = t("public.search_button");
  }

  function checkReceipt(code) {
    const out = byId("receipt-result");
    const f = String(code || "").normalize("NFKC").toLowerCase().trim();
    const d = model.donations.find((x) => (x.code && x.code.toLowerCase() === f) || x.donation_id.toLowerCase() === f);
    if (!d) { out.className = "bad"; out.textContent = t("public.receipt_not_found", { code }); return; }
    loadShard(d.shard, (part) => {
      const pledge = (part[d.donation_id] || { events: [] }).events.find((e) => e.event === "pledged");
      if (!pledge) { out.className = "bad"; out.textContent = t("public.receipt_not_found", { code }); return; }
      out.className = "ok";
      out.textContent = t("public.receipt_ok", { seq: pledge.seq, hash: pledge.hash });
    });
  }

  function renderGive() {
    const box = clear(byId("give"));
    box.append(el("h2", { text: t("public.give") }));
    const base = model.channels || {};
    const ch = Object.assign({}, base, base[lang] || {});
    if (!ch.hotline && !(ch.addresses || []).length) { box.append(el("p", { class: "muted", text: t("public.channels_missing") })); return; }
    if (ch.hotline) box.append(el("p", {}, el("strong", { text: t("public.hotline") + ": " }), String(ch.hotline)));
    const list = el("ul", { class: "plain" });
    for (const a of ch.addresses || []) list.append(el("li", { text: String(a) }));
    if ((ch.addresses || []).length) box.append(el("p", {}, el("strong", { text: t("public.address") })), list);
    if (ch.note) box.append(el("p", { class: "muted", text: String(ch.note) }));
  }

  function renderDownloads() {
    const box = clear(byId("downloads"));
    box.append(el("h2", { text: t("public.downloads") }));
    const list = el("ul", { class: "plain" });
    for (const [file, key] of [["snapshot-csv.zip", "public.download_csv"], ["snapshot.json", "public.download_json"],
      ["iati-activities.xml", "public.download_iati"], ["ledger.jsonl", "public.download_ledger"]]) {
      if (file === "iati-activities.xml" && !model.has_iati) continue;
      list.append(el("li", {}, el("a", { href: "downloads/" + file, download: file, "data-file": file, text: t(key) })));
    }
    box.append(list);
  }

  function render() {
    document.title = t("public.title");
    byId("title").textContent = t("public.title");
    byId("subtitle").textContent = model.snapshot.name ? t("public.subtitle", { name: model.snapshot.name }) : t("public.subtitle_plain");
    byId("search-title").textContent = t("public.search");
    byId("search-input").placeholder = t("public.search_hint");
    byId("search-button").textContent = t("public.search_button");
    renderLangs();
    renderStatus();
    renderTotals();
    renderReceipt();
    renderGive();
    renderDownloads();
    renderMap([]);
    renderResults(byId("search-input").value);
    const m = /^#d=(.+)$/.exec(location.hash);
    if (m) openTrail(decodeURIComponent(m[1]));
  }

  SA.load = function (data) {
    model = data;
    const q = new URLSearchParams(location.search).get("lang");
    let saved = null;
    try { saved = localStorage.getItem("sa-lang"); } catch (e) { /* storage may be off */ }
    lang = model.languages.includes(q) ? q : model.languages.includes(saved) ? saved : model.languages[0];
    document.documentElement.lang = lang;
    byId("search-form").addEventListener("submit", (ev) => { ev.preventDefault(); renderResults(byId("search-input").value); });
    byId("receipt-form").addEventListener("submit", (ev) => { ev.preventDefault(); checkReceipt(byId("receipt-input").value); });
    render();
  };
})();
