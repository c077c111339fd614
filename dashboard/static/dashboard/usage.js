// The usage page's charts: one horizontal bar per key or model (SVG, no library), as overview.js
// draws its lines. Without this file the page still shows the same figures in its tables.
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var W = 480, ROW = 26, PAD = { left: 150, right: 70, top: 6, bottom: 6 };
  var CLASSES = { requests: "bar", errors: "bar errors", latencyMs: "bar latency", cost: "bar cost" };

  function el(name, attrs, text) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function format(metric, value) {
    if (value === null || value === undefined) { return "—"; }
    if (metric === "latencyMs") { return value.toFixed(1) + " ms"; }
    if (metric === "cost") { return "$" + value.toFixed(value >= 1 ? 2 : 4); }
    return String(value);
  }

  function shorten(text, most) {
    return text.length > most ? text.slice(0, most - 1) + "…" : text;
  }

  function drawBars(container, rows, metric) {
    var height = PAD.top + PAD.bottom + ROW * rows.length;
    var svg = el("svg", { viewBox: "0 0 " + W + " " + height, class: "chart-svg", "aria-hidden": "true" });
    var max = 0;
    rows.forEach(function (row) { if (row[metric] > max) { max = row[metric]; } });
    var plotW = W - PAD.left - PAD.right;
    var drawn = 0;
    rows.forEach(function (row, i) {
      var y = PAD.top + i * ROW;
      var value = row[metric];
      svg.appendChild(el("text", { x: PAD.left - 8, y: y + ROW / 2 + 4, class: "label", "text-anchor": "end" },
        shorten(row.name, 22)));
      var width = max > 0 && value ? Math.max(1, value / max * plotW) : 0;
      if (width) { drawn++; }
      svg.appendChild(el("rect", { x: PAD.left, y: y + 4, width: width.toFixed(1), height: ROW - 8,
        class: CLASSES[metric], "data-group": row.group, "data-value": String(value) }));
      svg.appendChild(el("text", { x: PAD.left + width + 6, y: y + ROW / 2 + 4, class: "axis" },
        format(metric, value)));
    });
    svg.setAttribute("data-bars", String(drawn));
    container.replaceChildren(svg);
    if (!drawn) {
      var empty = document.createElement("p");
      empty.className = "muted";
      empty.textContent = metric === "cost" ? "No known cost in this period." : "None in this period.";
      container.appendChild(empty);
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var source = document.getElementById("usage-data");
    if (!source) { return; }
    var data = JSON.parse(source.textContent);
    document.querySelectorAll("[data-usage-chart]").forEach(function (container) {
      drawBars(container, data[container.dataset.usageChart] || [], container.dataset.metric);
    });
    document.getElementById("usage").dataset.drawn = "true";
  });
})();
