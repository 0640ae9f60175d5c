/*
 * FintraOS Core — live Financial Twin page.
 *
 * Plain ES2020, no build step, no external resources.
 *  - The bearer token comes from the URL fragment (#token=...), is kept in
 *    memory only and removed from the address bar, so it never appears in a
 *    request line, a Referer header or the server's access log.
 *  - Money is displayed from the API's decimal strings; JS numbers are only
 *    used to place points on the chart.
 *  - The event stream is read with fetch() because EventSource cannot send
 *    an Authorization header; SSE frames are parsed by hand.
 */
"use strict";

(function () {
  const FEED_LIMIT = 200;            // keep the DOM small on long-running pages
  const REFRESH_MIN_INTERVAL = 500;  // ms between profile re-fetches
  const RECONNECT_MIN = 1000;        // ms, first reconnect delay
  const RECONNECT_MAX = 10000;       // ms, back-off ceiling
  const STREAM_IDLE_TIMEOUT = 90000; // ms without any byte => assume a dead connection

  const state = {
    token: null,
    profile: null,          // last profile document
    lastEventId: null,      // SSE cursor, sent back as Last-Event-ID
    feedIds: new Set(),     // event ids currently in #feed (guards against replays)
    feedTotal: 0,
    history: null,          // last net-worth history, kept to redraw on resize
    errors: new Map(),      // source -> message; the banner shows all of them
    refresh: { timer: null, running: false, pending: false, lastRun: 0 },
  };

  const $ = (id) => document.getElementById(id);

  /* ------------------------------------------------------------------ *
   * Token handling
   * ------------------------------------------------------------------ */

  // Reads "#token=<JWT>" (optionally followed by "&profile=..." or other
  // parameters, which are ignored) and strips the fragment from the URL.
  function takeTokenFromHash() {
    const hash = window.location.hash.replace(/^#/, "");
    if (!hash) return null;
    const params = new URLSearchParams(hash);
    const token = params.get("token");
    // Remove the fragment even if it had no token: nothing secret should linger.
    history.replaceState(null, "", window.location.pathname + window.location.search);
    return token && token.trim() ? token.trim() : null;
  }

  /* ------------------------------------------------------------------ *
   * Errors
   * ------------------------------------------------------------------ */

  class ApiError extends Error {
    constructor(status, detail) {
      super(`${status}${detail ? ": " + detail : ""}`);
      this.status = status;
      this.detail = detail;
    }
  }

  // Errors are keyed by source so a later success of one request clears its
  // own message without hiding a still-relevant error from another.
  function setError(source, message) {
    state.errors.set(source, message);
    renderErrors();
  }

  function clearError(source) {
    if (state.errors.delete(source)) renderErrors();
  }

  function renderErrors() {
    const banner = $("error");
    banner.textContent = "";
    for (const message of state.errors.values()) {
      const line = document.createElement("div");
      line.textContent = message;
      banner.appendChild(line);
    }
    banner.hidden = state.errors.size === 0;
  }

  function describeError(label, err) {
    if (err instanceof ApiError) {
      return `${label} failed — HTTP ${err.status}${err.detail ? ": " + err.detail : ""}`;
    }
    return `${label} failed — ${err && err.message ? err.message : String(err)}`;
  }

  /* ------------------------------------------------------------------ *
   * HTTP
   * ------------------------------------------------------------------ */

  function authHeaders(extra) {
    return Object.assign({ Authorization: `Bearer ${state.token}` }, extra || {});
  }

  // Extracts the "detail" text FastAPI-style error bodies carry.
  async function readErrorDetail(response) {
    let text = "";
    try {
      text = await response.text();
    } catch (_) {
      return response.statusText || "";
    }
    try {
      const body = JSON.parse(text);
      if (body && body.detail !== undefined) {
        return typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
      }
    } catch (_) {
      /* not JSON: fall through to the raw text */
    }
    return text.slice(0, 300) || response.statusText || "";
  }

  async function apiGet(path) {
    const response = await fetch(path, { headers: authHeaders({ Accept: "application/json" }), cache: "no-store" });
    if (!response.ok) throw new ApiError(response.status, await readErrorDetail(response));
    return response.json();
  }

  /* ------------------------------------------------------------------ *
   * Money formatting — string based, never via floats
   * ------------------------------------------------------------------ */

  // "-12345.5" -> "-12,345.5"
  function groupThousands(value) {
    const str = String(value).trim();
    const sign = str.startsWith("-") || str.startsWith("+") ? str[0] : "";
    const unsigned = sign ? str.slice(1) : str;
    const [intPart, ...rest] = unsigned.split(".");
    const grouped = intPart.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return sign + grouped + (rest.length ? "." + rest.join(".") : "");
  }

  function isMoney(m) {
    return m != null && typeof m === "object" && m.value != null;
  }

  // Exact API string, e.g. "15857.55 USD" (tests compare this to the API).
  function rawMoney(m) {
    if (!isMoney(m)) return "n/a";
    return m.currency ? `${m.value} ${m.currency}` : String(m.value);
  }

  // Human formatting, e.g. "15,857.55 USD".
  function formatMoney(m) {
    if (!isMoney(m)) return "n/a";
    const grouped = groupThousands(m.value);
    return m.currency ? `${grouped} ${m.currency}` : grouped;
  }

  function isNegative(m) {
    return isMoney(m) && String(m.value).trim().startsWith("-");
  }

  /* ------------------------------------------------------------------ *
   * Small DOM helpers
   * ------------------------------------------------------------------ */

  function el(tag, props, children) {
    const node = document.createElement(tag);
    if (props) {
      for (const [key, value] of Object.entries(props)) {
        if (value == null) continue;
        if (key === "text") node.textContent = value;
        else if (key === "className") node.className = value;
        else if (key === "dataset") Object.assign(node.dataset, value);
        else node.setAttribute(key, value);
      }
    }
    for (const child of children || []) {
      if (child != null) node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function moneyCell(m, tag) {
    return el(tag || "td", {
      className: "num" + (isNegative(m) ? " negative" : ""),
      text: formatMoney(m),
      title: rawMoney(m),
    });
  }

  function humanize(key) {
    const words = String(key).replace(/_/g, " ");
    return words.charAt(0).toUpperCase() + words.slice(1);
  }

  function isScalar(v) {
    return v === null || ["string", "number", "boolean"].includes(typeof v);
  }

  function shortDate(iso) {
    if (!iso) return "";
    return String(iso).replace("T", " ").replace(/:\d\d(\.\d+)?Z$/, "Z");
  }

  /* ------------------------------------------------------------------ *
   * Profile rendering
   * ------------------------------------------------------------------ */

  function renderProfile(doc) {
    $("profile-id").textContent = doc.profile_id || "–";
    $("base-currency").textContent = doc.base_currency || "–";
    $("profile-version").textContent = doc.version != null ? String(doc.version) : "–";
    renderSummaryCards(doc);
    renderHealth(doc.health);
    renderAccounts(doc.accounts || []);
    renderRecurring(doc.recurring_streams || []);
    renderCashflow(doc.cashflow);
    renderCurrencies(doc.net_worth_by_currency || []);
  }

  function baseCurrencyTotals(doc) {
    const rows = doc.net_worth_by_currency || [];
    return rows.find((row) => row && row.currency === doc.base_currency) || null;
  }

  function renderSummaryCards(doc) {
    const netWorth = doc.net_worth;
    $("net-worth").textContent = rawMoney(netWorth);
    const nwFormatted = $("net-worth-formatted");
    nwFormatted.textContent = formatMoney(netWorth);
    nwFormatted.classList.toggle("negative", isNegative(netWorth));
    $("net-worth-at").textContent = netWorth && netWorth.at ? `as of ${shortDate(netWorth.at)}` : "";

    const totals = baseCurrencyTotals(doc);
    const assets = totals ? totals.assets : null;
    $("total-assets").textContent = rawMoney(assets);
    $("total-assets-formatted").textContent = formatMoney(assets);
    $("transaction-count").textContent =
      doc.transaction_count != null ? `${doc.transaction_count} transactions` : "";

    $("total-debt").textContent = rawMoney(doc.total_debt);
    $("total-debt-formatted").textContent = formatMoney(doc.total_debt);

    const unpriced = doc.unpriced_assets || [];
    $("unpriced-note").textContent = unpriced.length
      ? `${unpriced.length} unpriced asset${unpriced.length === 1 ? "" : "s"} not in totals: ` +
        unpriced.map(describeUnpriced).join(", ")
      : "";
  }

  // The unpriced-asset shape is not fixed; show whatever identifies it.
  function describeUnpriced(item) {
    if (!item || typeof item !== "object") return String(item);
    return String(item.name || item.symbol || item.security_id || item.account_id || item.id || item.currency || "asset");
  }

  function renderHealth(health) {
    const scoreEl = $("health-score");
    const details = $("health-details");
    details.textContent = "";
    if (!health || typeof health !== "object") {
      scoreEl.textContent = "n/a";
      return;
    }
    // "score" is the documented field; "overall_score" is what current builds emit.
    const scoreKey = health.score != null ? "score" : health.overall_score != null ? "overall_score" : null;
    scoreEl.textContent = scoreKey ? String(health[scoreKey]) : "n/a";

    const addRow = (key, value) => {
      details.appendChild(el("dt", { text: humanize(key) }));
      details.appendChild(el("dd", { text: value === null ? "–" : String(value) }));
    };
    for (const [key, value] of Object.entries(health)) {
      if (key !== scoreKey && isScalar(value)) addRow(key, value);
    }
    // Component scores are scalars one level down; they explain the score.
    if (health.components && typeof health.components === "object") {
      for (const [key, value] of Object.entries(health.components)) {
        if (isScalar(value)) addRow(key, value);
      }
    }
  }

  function renderAccounts(accounts) {
    const tbody = $("accounts").tBodies[0];
    const rows = accounts.map((account) => {
      const balance = account.balances ? account.balances.current : null;
      const nameCell = el("td", null, [
        el("div", { className: "strong", text: account.name || account.official_name || account.account_id }),
        account.official_name && account.official_name !== account.name
          ? el("div", { className: "muted small", text: account.official_name })
          : null,
      ]);
      const typeText = [account.type, account.subtype].filter(Boolean).map((s) => String(s).toLowerCase()).join(" · ");
      return el("tr", { dataset: { accountId: account.account_id } }, [
        nameCell,
        el("td", { className: "muted", text: typeText || "–" }),
        el("td", { className: "mono", text: account.mask ? `••${account.mask}` : "–" }),
        el("td", { text: account.currency || (balance && balance.currency) || "–" }),
        moneyCell(balance),
      ]);
    });
    tbody.replaceChildren(...rows);
    $("accounts-count").textContent = `${accounts.length} account${accounts.length === 1 ? "" : "s"}`;
  }

  function streamLabel(stream) {
    return stream.merchant_name || stream.merchant || stream.description || stream.name || stream.stream_id;
  }

  function frequencyLabel(stream) {
    if (!stream.frequency) return null;
    const freq = String(stream.frequency).toLowerCase().replace(/_/g, " ");
    return stream.interval && stream.interval > 1 ? `every ${stream.interval} × ${freq}` : freq;
  }

  function renderRecurring(streams) {
    const list = $("recurring");
    const items = streams.map((stream) => {
      const amount = stream.average_amount || stream.last_amount || stream.amount || null;
      const badges = [stream.type, stream.direction, stream.status]
        .filter(Boolean)
        .map((b) => el("span", { className: "badge", text: String(b).toLowerCase() }));
      const facts = [];
      const freq = frequencyLabel(stream);
      if (freq) facts.push(freq);
      if (isMoney(stream.last_amount) && stream.average_amount) facts.push(`last ${formatMoney(stream.last_amount)}`);
      if (stream.next_date) facts.push(`next ${stream.next_date}`);
      else if (stream.last_date) facts.push(`last seen ${stream.last_date}`);
      if (stream.occurrences != null) facts.push(`${stream.occurrences}×`);

      return el("li", { dataset: { streamId: stream.stream_id } }, [
        el("div", { className: "rec-main" }, [
          el("span", { className: "strong", text: streamLabel(stream) }),
          el("span", {
            className: "num" + (isNegative(amount) ? " negative" : " positive"),
            text: isMoney(amount) ? formatMoney(amount) + (stream.average_amount ? " avg" : "") : "",
          }),
        ]),
        el("div", { className: "rec-sub muted small" }, [...badges, facts.length ? facts.join(" · ") : null]),
      ]);
    });
    if (!items.length) items.push(el("li", { className: "muted empty", text: "No recurring payments detected yet." }));
    list.replaceChildren(...items);
    $("recurring-count").textContent = `${streams.length}`;
  }

  function renderCashflow(cashflow) {
    const tbody = $("cashflow").tBodies[0];
    const months = cashflow && Array.isArray(cashflow.months) ? cashflow.months.slice().reverse() : [];
    const rows = months.slice(0, 12).map((m) =>
      el("tr", { dataset: { month: m.month } }, [
        el("td", { text: m.month }),
        moneyCell(m.income),
        moneyCell(m.expenses),
        moneyCell(m.net),
      ])
    );
    if (!rows.length) rows.push(el("tr", null, [el("td", { colspan: "4", className: "muted", text: "No cashflow yet." })]));
    tbody.replaceChildren(...rows);

    const summary = cashflow && cashflow.summary;
    const bits = [];
    if (summary) {
      if (isMoney(summary.monthly_burn)) bits.push(`burn ${formatMoney(summary.monthly_burn)}/mo`);
      if (summary.savings_rate != null) bits.push(`savings rate ${summary.savings_rate}`);
    }
    $("cashflow-summary").textContent = bits.join(" · ");
  }

  // Only worth a panel when money is held in more than one currency.
  function renderCurrencies(rows) {
    $("currencies-panel").hidden = rows.length < 2;
    const tbody = $("net-worth-by-currency").tBodies[0];
    tbody.replaceChildren(
      ...rows.map((row) =>
        el("tr", { dataset: { currency: row.currency } }, [
          el("td", { text: row.currency }),
          moneyCell(row.assets),
          moneyCell(row.liabilities),
          moneyCell(row.net),
        ])
      )
    );
  }

  /* ------------------------------------------------------------------ *
   * Net-worth chart (inline SVG)
   * ------------------------------------------------------------------ */

  const SVG_NS = "http://www.w3.org/2000/svg";
  // Layout in viewBox units. The viewBox is sized to the element's real width
  // (1 unit ≈ 1 CSS px) so labels stay legible on phones instead of shrinking.
  let CHART = chartLayout(720);

  function chartLayout(width) {
    const w = Math.max(300, Math.min(1400, Math.round(width) || 720));
    const compact = w < 560;
    return compact
      ? { width: w, height: 230, left: 84, right: 16, top: 34, bottom: 34, compact }
      : { width: w, height: 280, left: 96, right: 112, top: 24, bottom: 36, compact };
  }

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    if (text != null) node.textContent = text;
    return node;
  }

  function renderChart(data) {
    const chart = $("net-worth-chart");
    state.history = data;
    CHART = chartLayout(chart.parentNode.clientWidth);
    chart.setAttribute("viewBox", `0 0 ${CHART.width} ${CHART.height}`);
    const points = (data && Array.isArray(data.points) ? data.points : []).filter(
      (p) => p && isMoney(p.net_worth) && Number.isFinite(Number(p.net_worth.value))
    );
    // Keep the single <path id="net-worth-line"> element; rebuild the rest.
    let line = $("net-worth-line");
    chart.replaceChildren();
    line = line || svg("path", { id: "net-worth-line" });
    chart.setAttribute("data-points", String(points.length));
    chart.onmousemove = null;
    chart.onmouseleave = null;

    $("history-range").textContent = points.length
      ? `${points[0].day} → ${points[points.length - 1].day} · ${points.length} day${points.length === 1 ? "" : "s"}`
      : "";

    if (!points.length) {
      line.setAttribute("d", "");
      chart.appendChild(line);
      chart.appendChild(svg("text", { x: CHART.width / 2, y: CHART.height / 2, class: "chart-empty", "text-anchor": "middle" }, "No history yet"));
      return;
    }

    const geo = chartGeometry(points);
    drawAxes(chart, points, geo);

    line.setAttribute("d", points.map((p, i) => `${i ? "L" : "M"}${geo.x(i).toFixed(1)},${geo.y(p).toFixed(1)}`).join(""));
    line.setAttribute("class", "chart-line");
    line.setAttribute("fill", "none");

    // Soft area under the line, down to zero (or the bottom if all positive).
    const baseY = geo.y0 != null ? geo.y0 : geo.bottom;
    const area = svg("path", {
      class: "chart-area",
      d: `${line.getAttribute("d")}L${geo.x(points.length - 1).toFixed(1)},${baseY.toFixed(1)}L${geo.x(0).toFixed(1)},${baseY.toFixed(1)}Z`,
    });
    chart.appendChild(area);
    chart.appendChild(line);

    // Last value label — the number people look for first.
    const last = points[points.length - 1];
    const lx = geo.x(points.length - 1);
    const ly = geo.y(last);
    chart.appendChild(svg("circle", { cx: lx, cy: ly, r: 4, class: "chart-dot" }));
    // On narrow charts there is no right margin: put the label above the point.
    const labelPos = CHART.compact
      ? { x: lx, y: Math.max(14, ly - 12), "text-anchor": "end" }
      : { x: lx + 8, y: ly + 4, "text-anchor": "start" };
    chart.appendChild(svg("text", Object.assign({ id: "net-worth-last-label", class: "chart-last" }, labelPos), formatMoney(last.net_worth)));

    attachHover(chart, points, geo);
  }

  function chartGeometry(points) {
    const values = points.map((p) => Number(p.net_worth.value));
    let min = Math.min(...values);
    let max = Math.max(...values);
    if (min === max) { min -= 1; max += 1; } // flat line: give it some room
    const pad = (max - min) * 0.06;
    const lo = min - pad;
    const hi = max + pad;
    const innerW = CHART.width - CHART.left - CHART.right;
    const innerH = CHART.height - CHART.top - CHART.bottom;
    const bottom = CHART.top + innerH;
    const n = points.length;
    const x = (i) => CHART.left + (n === 1 ? innerW / 2 : (i / (n - 1)) * innerW);
    const yv = (v) => CHART.top + (1 - (v - lo) / (hi - lo)) * innerH;
    const y = (p) => yv(Number(p.net_worth.value));
    return { x, y, yv, bottom, innerW, y0: lo < 0 && hi > 0 ? yv(0) : null };
  }

  function drawAxes(chart, points, geo) {
    // Min / max labels use the API's own strings of the extreme points.
    let minP = points[0];
    let maxP = points[0];
    for (const p of points) {
      if (Number(p.net_worth.value) < Number(minP.net_worth.value)) minP = p;
      if (Number(p.net_worth.value) > Number(maxP.net_worth.value)) maxP = p;
    }
    const axisX = CHART.left - 8;
    const right = CHART.left + geo.innerW;
    // A flat history has one extreme: label it once.
    const extremes = minP === maxP ? [[maxP, "chart-max chart-min"]] : [[maxP, "chart-max"], [minP, "chart-min"]];
    for (const [p, cls] of extremes) {
      const yy = geo.y(p);
      chart.appendChild(svg("line", { x1: CHART.left, x2: right, y1: yy, y2: yy, class: "chart-grid" }));
      chart.appendChild(svg("text", { x: axisX, y: yy + 4, "text-anchor": "end", class: `chart-label ${cls}` }, formatMoney(p.net_worth)));
    }
    if (geo.y0 != null) {
      chart.appendChild(svg("line", { x1: CHART.left, x2: right, y1: geo.y0, y2: geo.y0, class: "chart-zero" }));
    }
    chart.appendChild(svg("line", { x1: CHART.left, x2: right, y1: geo.bottom, y2: geo.bottom, class: "chart-axis" }));
    const labelY = geo.bottom + 22;
    chart.appendChild(svg("text", { x: geo.x(0), y: labelY, "text-anchor": points.length === 1 ? "middle" : "start", class: "chart-label chart-first-day" }, points[0].day));
    if (points.length > 1) {
      chart.appendChild(svg("text", { x: geo.x(points.length - 1), y: labelY, "text-anchor": "end", class: "chart-label chart-last-day" }, points[points.length - 1].day));
    }
  }

  // Crosshair + readout for the nearest day under the pointer.
  function attachHover(chart, points, geo) {
    const group = svg("g", { class: "chart-hover", visibility: "hidden" });
    const vline = svg("line", { y1: CHART.top, y2: geo.bottom, class: "chart-cross" });
    const dot = svg("circle", { r: 3.5, class: "chart-dot" });
    const label = svg("text", { y: 14, class: "chart-readout", "text-anchor": "middle" });
    group.append(vline, dot, label);
    chart.appendChild(group);

    chart.onmousemove = (ev) => {
      const ctm = chart.getScreenCTM();
      if (!ctm || !ctm.a) return;
      const sx = (ev.clientX - ctm.e) / ctm.a; // screen -> viewBox x
      const n = points.length;
      const i = n === 1 ? 0 : Math.max(0, Math.min(n - 1, Math.round(((sx - CHART.left) / geo.innerW) * (n - 1))));
      const p = points[i];
      const px = geo.x(i);
      vline.setAttribute("x1", px);
      vline.setAttribute("x2", px);
      dot.setAttribute("cx", px);
      dot.setAttribute("cy", geo.y(p));
      label.setAttribute("x", Math.max(CHART.left + 70, Math.min(CHART.width - 90, px)));
      label.textContent = `${p.day}  ${formatMoney(p.net_worth)}`;
      group.setAttribute("visibility", "visible");
    };
    chart.onmouseleave = () => group.setAttribute("visibility", "hidden");
  }

  /* ------------------------------------------------------------------ *
   * Loading & live refresh
   * ------------------------------------------------------------------ */

  async function loadProfile() {
    try {
      const doc = await apiGet("/v1/profile/me");
      state.profile = doc;
      renderProfile(doc);
      clearError("profile");
    } catch (err) {
      setError("profile", describeError("Loading the profile", err));
    }
  }

  async function loadHistory() {
    try {
      const history = await apiGet("/v1/profile/me/net-worth/history");
      renderChart(history);
      clearError("history");
    } catch (err) {
      setError("history", describeError("Loading net-worth history", err));
    }
  }

  function loadAll() {
    return Promise.all([loadProfile(), loadHistory()]);
  }

  // Throttle: many events arrive in bursts (an import adds hundreds of
  // transactions); refetch at most once per REFRESH_MIN_INTERVAL and never
  // with two refreshes in flight, but always once more after the last event.
  function scheduleRefresh() {
    const r = state.refresh;
    if (r.running) { r.pending = true; return; }
    if (r.timer) return;
    const wait = Math.max(0, REFRESH_MIN_INTERVAL - (Date.now() - r.lastRun));
    r.timer = setTimeout(runRefresh, wait);
  }

  async function runRefresh() {
    const r = state.refresh;
    r.timer = null;
    r.running = true;
    r.pending = false;
    r.lastRun = Date.now();
    try {
      await loadAll();
    } finally {
      r.running = false;
      if (r.pending) scheduleRefresh();
    }
  }

  /* ------------------------------------------------------------------ *
   * Server-Sent Events over fetch
   * ------------------------------------------------------------------ */

  // Incremental SSE parser following the WHATWG event-stream rules:
  // lines end in CRLF, LF or CR; ":" lines are comments; a blank line
  // dispatches the accumulated message.
  class SseParser {
    constructor(onMessage, onId) {
      this.onMessage = onMessage;
      this.onId = onId;
      this.buffer = "";
      this.resetMessage();
    }

    resetMessage() {
      this.data = [];
      this.eventType = "";
      this.id = null;
    }

    push(text) {
      this.buffer += text;
      for (;;) {
        const idx = this.buffer.search(/[\r\n]/);
        if (idx < 0) break;
        let eolLength = 1;
        if (this.buffer[idx] === "\r") {
          // A CR at the very end may be the first half of a CRLF split across chunks.
          if (idx + 1 === this.buffer.length) break;
          if (this.buffer[idx + 1] === "\n") eolLength = 2;
        }
        const line = this.buffer.slice(0, idx);
        this.buffer = this.buffer.slice(idx + eolLength);
        this.processLine(line);
      }
    }

    processLine(line) {
      if (line === "") { this.dispatch(); return; }
      if (line.startsWith(":")) return; // keep-alive / comment
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      switch (field) {
        case "data": this.data.push(value); break;
        case "event": this.eventType = value; break;
        case "id": if (!value.includes("\0")) this.id = value; break;
        default: break; // "retry" and unknown fields are ignored
      }
    }

    dispatch() {
      // The cursor advances even for a message without data, per the spec.
      if (this.id !== null) this.onId(this.id);
      if (this.data.length) this.onMessage({ event: this.eventType || "message", data: this.data.join("\n") });
      this.resetMessage();
    }
  }

  function setStatus(live) {
    const status = $("status");
    const text = live ? "live" : "reconnecting";
    status.textContent = text;
    status.dataset.state = text;
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // Runs forever: connect, read until the stream ends or fails, back off, reconnect.
  async function runStream() {
    let delay = RECONNECT_MIN;
    for (;;) {
      const outcome = await connectOnce();
      setStatus(false);
      if (outcome.connected) delay = RECONNECT_MIN; // a healthy session resets the back-off
      await sleep(delay);
      delay = Math.min(delay * 2, RECONNECT_MAX);
    }
  }

  async function connectOnce() {
    const controller = new AbortController();
    let idleTimer = null;
    const armIdleTimer = () => {
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => controller.abort(), STREAM_IDLE_TIMEOUT);
    };
    const headers = authHeaders({ Accept: "text/event-stream" });
    // Resume exactly after the last event we saw, so nothing is missed or repeated.
    if (state.lastEventId !== null) headers["Last-Event-ID"] = state.lastEventId;

    let connected = false;
    try {
      armIdleTimer();
      const response = await fetch("/v1/core/stream", { headers, cache: "no-store", signal: controller.signal });
      if (!response.ok) {
        setError("stream", describeError("Event stream", new ApiError(response.status, await readErrorDetail(response))));
        return { connected };
      }
      if (!response.body) throw new Error("streaming responses are not supported by this browser");
      connected = true;
      clearError("stream");
      setStatus(true);

      const parser = new SseParser(handleSseMessage, (id) => { state.lastEventId = id; });
      const reader = response.body.getReader();
      const decoder = new TextDecoder("utf-8");
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        armIdleTimer();
        parser.push(decoder.decode(value, { stream: true }));
      }
      parser.push(decoder.decode()); // flush; an unterminated last message is dropped, as per spec
    } catch (err) {
      // Network drop or idle abort: the status shows "reconnecting"; no banner needed.
      if (!connected && !(err && err.name === "AbortError")) console.warn("event stream:", err);
    } finally {
      clearTimeout(idleTimer);
    }
    return { connected };
  }

  function handleSseMessage(message) {
    let event;
    try {
      event = JSON.parse(message.data);
    } catch (_) {
      console.warn("event stream: ignoring non-JSON message", message);
      return;
    }
    if (!event || typeof event !== "object") return;
    if (!event.type) event.type = message.event;
    addFeedItem(event);
    // Before the first profile arrives we cannot tell whose event it is, and the
    // in-flight load may already be stale: refresh to be safe (it is throttled).
    if (!state.profile || event.profile_id === state.profile.profile_id) scheduleRefresh();
  }

  /* ------------------------------------------------------------------ *
   * Live feed
   * ------------------------------------------------------------------ */

  function addFeedItem(event) {
    const id = event.event_id != null ? String(event.event_id) : null;
    if (id && state.feedIds.has(id)) return; // a replay after reconnect: already shown
    const feed = $("feed");
    const ownProfile = state.profile && event.profile_id === state.profile.profile_id;

    const item = el("li", { className: "event" + (ownProfile ? " own" : ""), dataset: { eventId: id || "", type: event.type || "" } }, [
      el("div", { className: "event-head" }, [
        el("span", { className: "event-type", text: event.type || "event" }),
        el("span", { className: "event-version mono", text: event.stream_version != null ? `v${event.stream_version}` : "" }),
      ]),
      el("div", { className: "event-sub muted small" }, [
        el("span", { className: "event-profile", text: event.profile_id || "–" }),
        " · ",
        el("time", { className: "event-time", datetime: event.occurred_at || null, text: event.occurred_at || "" }),
      ]),
    ]);
    feed.prepend(item);
    if (id) state.feedIds.add(id);
    state.feedTotal += 1;

    while (feed.children.length > FEED_LIMIT) {
      const oldest = feed.lastElementChild;
      if (oldest.dataset.eventId) state.feedIds.delete(oldest.dataset.eventId);
      oldest.remove();
    }
    $("feed-count").textContent = `${state.feedTotal} event${state.feedTotal === 1 ? "" : "s"}` +
      (state.feedTotal > FEED_LIMIT ? ` (latest ${FEED_LIMIT} shown)` : "");
  }

  /* ------------------------------------------------------------------ *
   * Boot
   * ------------------------------------------------------------------ */

  function main() {
    state.token = takeTokenFromHash();
    if (!state.token) {
      $("no-token").hidden = false;
      return; // without a token every call would fail; do nothing else
    }
    $("app").hidden = false;
    setStatus(false);
    runRefresh(); // first load goes through the throttle so early events coalesce with it
    runStream();
    watchChartSize();
  }

  // Redraw the chart when its container width changes (rotation, sidebar reflow).
  function watchChartSize() {
    if (typeof ResizeObserver === "undefined") return;
    const wrap = $("net-worth-chart").parentNode;
    let lastWidth = wrap.clientWidth;
    new ResizeObserver(() => {
      const width = wrap.clientWidth;
      if (Math.abs(width - lastWidth) < 2 || !state.history) return;
      lastWidth = width;
      renderChart(state.history);
    }).observe(wrap);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", main);
  else main();
})();
