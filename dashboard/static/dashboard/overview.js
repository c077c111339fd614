// The overview's charts (small SVG line charts, no library) and its refresh from overview.json.
// Without this file the page still shows the last minute's figures as the server rendered them.
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var W = 640, H = 220, PAD = { left: 72, right: 12, top: 12, bottom: 26 };
  var CHARTS = {
    rates: [
      { key: "requestRate", label: "requests", color: "#2156c6" },
      { key: "errorRate", label: "errors (5xx)", color: "#b3261e" }
    ],
    latency: [
      { key: "p50", label: "p50", color: "#1d7a3e" },
      { key: "p95", label: "p95", color: "#9a6200" },
      { key: "p99", label: "p99", color: "#b3261e" }
    ]
  };

  function format(kind, value) {
    if (value === null || value === undefined) { return "—"; }
    if (kind === "rate") { return value.toFixed(1) + "/min"; }
    if (kind === "ms") { return (value * 1000).toFixed(1) + " ms"; }
    if (kind === "percent") { return Math.round(value * 100) + "%"; }
    if (kind === "uptime") {
      var d = Math.floor(value / 86400), h = Math.floor(value % 86400 / 3600);
      var m = Math.floor(value % 3600 / 60);
      if (!d && !h && !m) { return value + " s"; }
      return (d ? d + " d " : "") + (d || h ? h + " h " : "") + m + " min";
    }
    return String(value);
  }

  function el(name, attrs, text) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  // A "nice" top for the y axis: 1, 2 or 5 times a power of ten.
  function niceMax(value) {
    if (!(value > 0)) { return 1; }
    var power = Math.pow(10, Math.floor(Math.log10(value)));
    var steps = [1, 2, 5, 10];
    for (var i = 0; i < steps.length; i++) {
      if (value <= steps[i] * power) { return steps[i] * power; }
    }
    return 10 * power;
  }

  function clock(t) {
    var date = new Date(t * 1000);
    return ("0" + date.getUTCHours()).slice(-2) + ":" + ("0" + date.getUTCMinutes()).slice(-2);
  }

  function drawChart(container, lines, points, kind) {
    var svg = el("svg", { viewBox: "0 0 " + W + " " + H, class: "chart-svg", "aria-hidden": "true" });
    var plotW = W - PAD.left - PAD.right, plotH = H - PAD.top - PAD.bottom;
    var max = 0;
    points.forEach(function (p) {
      lines.forEach(function (line) { if (p[line.key] > max) { max = p[line.key]; } });
    });
    max = niceMax(max);
    var t0 = points.length ? points[0].t : 0, t1 = points.length ? points[points.length - 1].t : 1;
    var span = Math.max(t1 - t0, 1);
    var x = function (t) { return PAD.left + (points.length > 1 ? (t - t0) / span * plotW : plotW); };
    var y = function (v) { return PAD.top + plotH - v / max * plotH; };
    for (var i = 0; i <= 4; i++) {
      var value = max * i / 4, gy = y(value);
      svg.appendChild(el("line", { x1: PAD.left, x2: W - PAD.right, y1: gy, y2: gy, class: "grid-line" }));
      var tick = kind === "ms" ? Math.round(value * 1000) + " ms" : format(kind, value);
      svg.appendChild(el("text", { x: PAD.left - 6, y: gy + 4, class: "axis", "text-anchor": "end" }, tick));
    }
    if (points.length) {
      svg.appendChild(el("text", { x: PAD.left, y: H - 6, class: "axis" }, clock(t0) + " UTC"));
      svg.appendChild(el("text", { x: W - PAD.right, y: H - 6, class: "axis", "text-anchor": "end" }, clock(t1)));
    }
    var drawn = 0;
    lines.forEach(function (line) {
      // A null value (a minute without observations) breaks the line.
      var d = "", pen = "M";
      points.forEach(function (p) {
        var v = p[line.key];
        if (v === null || v === undefined) { pen = "M"; return; }
        d += pen + x(p.t).toFixed(1) + "," + y(v).toFixed(1) + " ";
        pen = "L";
        drawn++;
      });
      var path = el("path", { d: d.trim(), class: "series", stroke: line.color, "data-series": line.key });
      svg.appendChild(path);
      if (points.length === 1 && d) {
        var only = points[0][line.key];
        svg.appendChild(el("circle", { cx: x(points[0].t), cy: y(only), r: 3, fill: line.color }));
      }
    });
    svg.setAttribute("data-points", String(points.length));
    var legend = document.createElement("p");
    legend.className = "legend";
    lines.forEach(function (line) {
      var last = points.length ? points[points.length - 1][line.key] : null;
      var item = document.createElement("span");
      var swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = line.color;
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(" " + line.label + " " + format(kind, last) + " "));
      legend.appendChild(item);
    });
    container.replaceChildren(svg, legend);
    if (!drawn) {
      var empty = document.createElement("p");
      empty.className = "muted";
      empty.textContent = points.length
        ? "Nothing measured in this period."
        : "No traffic history yet: the first points appear a minute or two after start-up.";
      container.appendChild(empty);
    }
  }

  function setFigure(name, text) {
    document.querySelectorAll('[data-figure="' + name + '"]').forEach(function (node) {
      node.textContent = text;
    });
  }

  function routingText(part) {
    var text = part.lightweight + " lightweight, " + part.powerful + " powerful";
    return part.lightweightShare === null ? text : text + " (" + format("percent", part.lightweightShare) + " lightweight)";
  }

  function badge(state) {
    var span = document.createElement("span");
    span.className = "badge breaker-" + state.toLowerCase();
    span.textContent = state;
    return span;
  }

  function cell(tag, content) {
    var node = document.createElement(tag);
    if (typeof content === "string") { node.textContent = content; } else { node.appendChild(content); }
    return node;
  }

  function render(data) {
    var now = data.current || {};
    document.querySelectorAll("dd[data-figure][data-format]").forEach(function (node) {
      var key = node.dataset.figure;
      var value = key === "uptimeSeconds" ? data.uptimeSeconds : now[key];
      node.textContent = format(node.dataset.format, value);
    });
    document.querySelectorAll(".no-history").forEach(function (node) { node.hidden = !!data.current; });
    document.querySelectorAll("[data-chart]").forEach(function (container) {
      drawChart(container, CHARTS[container.dataset.chart], data.series, container.dataset.format);
    });
    setFigure("routing.lastHour", routingText(data.routing.lastHour));
    setFigure("routing.total", routingText(data.routing));
    var split = document.querySelector("[data-split] .split-light");
    if (split) {
      split.parentNode.classList.toggle("empty", data.routing.lightweightShare === null);
      split.setAttribute("width", String(Math.round((data.routing.lightweightShare || 0) * 100)));
    }
    var worst = document.querySelector('[data-figure="breakerSummary.state"]');
    if (worst) {
      worst.className = "badge breaker-" + data.breakerSummary.state.toLowerCase();
      worst.textContent = data.breakerSummary.state;
    }
    setFigure("breakerSummary.text", data.breakerSummary.openInstances + " open of " + data.breakerSummary.instances);
    var body = document.querySelector("[data-breakers]");
    if (body && data.breakers.length) {
      body.replaceChildren.apply(body, data.breakers.map(function (b) {
        var row = document.createElement("tr");
        row.dataset.instance = b.instanceId;
        var id = document.createElement("code");
        id.textContent = b.instanceId;
        var head = cell("th", id);
        head.scope = "row";
        var state = cell("td", badge(b.state));
        if (b.forced) { state.appendChild(document.createTextNode(" (forced)")); }
        row.append(head, cell("td", b.serviceType), state,
          cell("td", format("percent", b.failureRate)), cell("td", String(b.requestCount)));
        return row;
      }));
    }
    var stamp = document.querySelector('[data-figure="generatedAt"]');
    if (stamp) {
      stamp.setAttribute("datetime", data.generatedAt);
      stamp.textContent = data.generatedAt.slice(11, 19) + " UTC";
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("overview");
    var initial = document.getElementById("overview-data");
    if (!root || !initial) { return; }
    var note = root.querySelector(".refresh-note");
    var seconds = Number(root.dataset.refresh) || 10;
    render(JSON.parse(initial.textContent));

    function refresh() {
      if (document.hidden) { return; }
      fetch(root.dataset.source, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          var json = (response.headers.get("content-type") || "").indexOf("application/json") === 0;
          if (!response.ok || !json) { throw new Error("signed out or unavailable"); }
          return response.json();
        })
        .then(function (data) {
          render(data);
          root.dataset.refreshed = String(Number(root.dataset.refreshed || 0) + 1);
        })
        .catch(function () {
          if (note) { note.textContent = "Refresh failed (signed out?): reload the page."; }
        });
    }
    if (note) {
      note.replaceChildren(document.createTextNode("Refreshes every " + seconds + " s; figures as of "),
        root.querySelector('[data-figure="generatedAt"]'), document.createTextNode("."));
    }
    window.setInterval(refresh, seconds * 1000);
  });
})();
