// Charts of the report pages (Apache ECharts): drawn from the figures the page carries in
// data-chart; the table below the chart says the same for screen readers and without script.
// A click on a bar, a point or a slice opens the list of the records it adds up.
(function () {
  "use strict";
  var PALETTE = ["#1f5fbf", "#1a7f37", "#c4661f", "#8250df", "#cf222e", "#0a7f8f", "#9a6700", "#57606a"];

  function draw(el) {
    var spec = JSON.parse(el.getAttribute("data-chart"));
    var groups = spec.columns.filter(function (c) { return c.type === "string" || c.type === "date"; });
    var measures = spec.columns.filter(function (c) { return c.type !== "string" && c.type !== "date"; });
    if (!groups.length || !measures.length || !window.echarts) return;
    var measure = measures[0];
    var first = groups[0].name, second = groups.length > 1 ? groups[1].name : null;
    var labels = [], links = {};
    spec.rows.forEach(function (r) {
      if (labels.indexOf(r[first]) < 0) labels.push(r[first]);
    });
    var series;
    var num = function (v) { return v === null || v === undefined ? null : Number(v); };
    if (spec.kind === "pie") {
      series = [{type: "pie", radius: ["35%", "70%"], data: spec.rows.map(function (r) {
        links[r[first]] = r.__link; return {name: r[first], value: num(r[measure.name])};
      })}];
    } else if (second) {
      var names = [];
      spec.rows.forEach(function (r) { if (names.indexOf(r[second]) < 0) names.push(r[second]); });
      series = names.map(function (n) {
        return {name: n, type: spec.kind, stack: spec.kind === "bar" ? "all" : undefined, emphasis: {focus: "series"},
          data: labels.map(function (l) {
            var row = spec.rows.filter(function (r) { return r[first] === l && r[second] === n; })[0];
            if (row) links[l + "\u0000" + n] = row.__link;
            return row ? num(row[measure.name]) : null;
          })};
      });
    } else {
      series = [{name: measure.label, type: spec.kind, data: spec.rows.map(function (r) {
        links[r[first]] = r.__link; return num(r[measure.name]);
      })}];
    }
    // canvas, and tooltips drawn in it: the page's Content-Security-Policy allows no inline styles
    var numbers = new Intl.NumberFormat(document.documentElement.lang || "en");  // 12,345 / 12 345 as the page writes numbers
    var chart = window.echarts.init(el, null, {renderer: "canvas"});
    var option = {color: PALETTE, tooltip: {trigger: spec.kind === "pie" ? "item" : "axis", renderMode: "richText"}, series: series,
      textStyle: {fontFamily: getComputedStyle(document.body).fontFamily},
      legend: (second || spec.kind === "pie") ? {bottom: 0, type: "scroll"} : undefined,
      grid: {left: 8, right: 16, top: 36, bottom: second ? 48 : 8, containLabel: true}};
    if (spec.kind !== "pie") {
      option.xAxis = {type: "category", data: labels, axisLabel: {hideOverlap: true}};
      option.yAxis = {type: "value", name: measure.label, nameTextStyle: {align: "left"},
        axisLabel: {formatter: function (v) { return numbers.format(v); }}};
    }
    chart.on("finished", function () { el.setAttribute("data-drawn", "true"); });  // drawn, its animation over
    chart.setOption(option);
    chart.on("click", function (p) {
      var link = spec.kind === "pie" || !second ? links[p.name] : links[p.name + "\u0000" + p.seriesName];
      if (link) window.location.href = link;
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }

  function start() { document.querySelectorAll("[data-chart]").forEach(draw); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
