// The calendar (FullCalendar) and the Gantt chart (frappe-gantt) of an entity's records. Both read
// only what the list would show this user; a drag is an update through the record service, and a
// refusal puts the item back and says why.
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="csrf-token"]');
  var status = document.querySelector("[data-view-status]");

  function say(text, bad) {
    if (!status) return;
    status.textContent = text;
    status.className = "view-status" + (bad ? " alert error" : " muted");
  }

  function move(url, id, body, done, undo) {
    fetch(url.replace("{id}", id), {method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf ? csrf.content : ""}, body: JSON.stringify(body)})
      .then(function (r) { return r.json().then(function (j) { return {ok: r.ok, body: j}; }); })
      .then(function (r) { if (r.ok) done(r.body); else { undo(); say(r.body.error || r.body.detail || "", true); } })
      .catch(function () { undo(); });
  }

  function day(d) {  // a Date as 2026-12-09, in the browser's zone (the day the user dropped it on)
    var m = d.getMonth() + 1, n = d.getDate();
    return d.getFullYear() + "-" + (m < 10 ? "0" : "") + m + "-" + (n < 10 ? "0" : "") + n;
  }

  var cal = document.getElementById("calendar");
  if (cal && window.FullCalendar) {
    var words = JSON.parse(cal.getAttribute("data-words"));
    var phone = window.matchMedia("(max-width: 640px)").matches;
    var calendar = new window.FullCalendar.Calendar(cal, {
      initialView: phone ? "listMonth" : "dayGridMonth", locale: cal.getAttribute("data-lang"), firstDay: 1, height: "auto",
      headerToolbar: phone ? {left: "prev,next", center: "title", right: "today"}
        : {left: "prev,next today", center: "title", right: "dayGridMonth,timeGridWeek,timeGridDay,listMonth"},
      buttonText: {today: words.today, month: words.month, week: words.week, day: words.day, list: words.list},
      noEventsText: words.noEvents, allDayText: words.allDay, events: cal.getAttribute("data-feed"), editable: cal.getAttribute("data-editable") === "true",
      eventDurationEditable: false, dayMaxEvents: true,
      eventSourceSuccess: function (content, response) {  // more than a window shows: said, not silently cut
        if (response && response.headers && response.headers.get("X-Engine-Capped")) say(words.capped, false);
        else if (status && status.textContent === words.capped) say("", false);
        return content;
      },
      eventDrop: function (info) {
        move(cal.getAttribute("data-move"), info.event.id, {start: info.event.allDay ? day(info.event.start) : info.event.start.toISOString(),
          version: info.event.extendedProps.version},
        function (got) { info.event.setExtendedProp("version", got.version); say(words.moved + " " + info.event.title, false); }, info.revert);
      }
    });
    calendar.render();
  }

  var svg = document.getElementById("gantt");
  if (svg && window.Gantt) {
    var gw = JSON.parse(svg.getAttribute("data-words"));
    var tasks = JSON.parse(svg.getAttribute("data-tasks"));
    var rows = JSON.parse(svg.getAttribute("data-rows") || "null");  // [[value, label], ...]: where a bar may move, or null
    var editable = svg.getAttribute("data-editable") === "true";
    var scroller = function () { return svg.parentElement; };  // frappe-gantt moves the chart into a scrolling container of its own
    var pending = {};  // task id -> the dates a drag gave it, sent with the row it was dropped on (if another)
    var drop = null;  // {id, group}: a bar let go over another row
    var rowLabel = function (value) {
      for (var i = 0; rows && i < rows.length; i++) if (String(rows[i][0]) === String(value)) return rows[i][1];
      return "";
    };
    var byId = function (id) { for (var i = 0; i < tasks.length; i++) if (tasks[i].id === String(id)) return tasks[i]; return null; };
    var redraw = function () {  // the rows again in order (by row, then start), where the user was
      var box = scroller(), left = box ? box.scrollLeft : 0;
      tasks.sort(function (a, b) {
        var ga = rowLabel(a.group), gb = rowLabel(b.group);
        return ga < gb ? -1 : ga > gb ? 1 : a.start < b.start ? -1 : a.start > b.start ? 1 : 0;
      });
      gantt.refresh(tasks);
      if (box) box.scrollLeft = left;
    };
    var regroup = function (task, group) {  // a task now in another row: its name says so, its table select too
      task.group = group;
      var label = group === "" || group === null ? "" : rowLabel(group);
      task.name = (label ? label + " · " : "") + task.title;
      var sel = document.querySelector('[data-gantt-row="' + task.id + '"]');
      if (sel) sel.value = String(group);
    };
    var flush = function () {  // what one gesture changed, in one update
      var ids = Object.keys(pending);
      if (drop && ids.indexOf(drop.id) < 0) ids.push(drop.id);
      ids.forEach(function (id) {
        var task = byId(id), dates = pending[id], body = {version: task.version};
        var before = {start: task.start, end: task.end, group: task.group};
        if (dates) { body.start = dates.start; body.end = dates.end; }
        var group = drop && drop.id === id ? drop.group : null;
        if (group !== null) body.group = group;
        move(svg.getAttribute("data-move"), id, body,
          function (got) {
            task.version = got.version;
            if (dates) { task.start = dates.start; task.end = dates.end; }
            if (group !== null) { regroup(task, group); redraw(); }
            say(gw.moved + " " + task.name, false);
          },
          function () { task.start = before.start; task.end = before.end; regroup(task, before.group); redraw(); });
      });
      pending = {};
      drop = null;
    };
    var gantt = new window.Gantt(svg, tasks, {
      view_mode: "Week", language: svg.getAttribute("data-lang") === "zh" ? "zh" : svg.getAttribute("data-lang"),
      readonly: !editable, custom_popup_html: null,
      on_click: function (task) { window.location.href = task.url; },
      on_date_change: function (task, start, end) {
        pending[task.id] = {start: day(start), end: day(new Date(end.getTime() - 1))};
        window.setTimeout(flush, 0);  // after the mouse-up that tells whether the bar also changed rows
      }
    });
    if (editable && rows) {  // up or down onto another row's bars: the bar follows the pointer, the rows it would join light up
      var dragging = null;
      var rowAt = function (clientY) {
        var o = gantt.options, y = clientY - svg.getBoundingClientRect().top - o.header_height - o.padding / 2;
        var i = Math.floor(y / (o.bar_height + o.padding));
        return i >= 0 && i < gantt.tasks.length ? gantt.tasks[i] : null;
      };
      var light = function (group) {
        var grid = svg.querySelectorAll(".grid .grid-row");
        gantt.tasks.forEach(function (t, i) {
          if (grid[i]) grid[i].classList.toggle("gantt-drop", group !== null && String(t.group) === String(group));
        });
      };
      svg.addEventListener("mousedown", function (e) {
        var w = e.target.closest ? e.target.closest(".bar-wrapper") : null;
        if (!w || e.target.closest(".handle") || e.button !== 0) return;
        dragging = {id: w.getAttribute("data-id"), wrapper: w, y: e.clientY, group: null};
      });
      svg.addEventListener("mousemove", function (e) {
        if (!dragging) return;
        var dy = e.clientY - dragging.y, task = byId(dragging.id), over = rowAt(e.clientY);
        var far = Math.abs(dy) > gantt.options.bar_height / 2;
        dragging.group = far && over && task && String(over.group) !== String(task.group) ? over.group : null;
        dragging.wrapper.setAttribute("transform", far ? "translate(0," + dy + ")" : "");
        light(dragging.group);
      });
      document.addEventListener("mouseup", function () {
        if (!dragging) return;
        dragging.wrapper.removeAttribute("transform");
        light(null);
        if (dragging.group !== null) { drop = {id: dragging.id, group: dragging.group}; window.setTimeout(flush, 0); }
        dragging = null;
      });
    }
    document.querySelectorAll("[data-gantt-row]").forEach(function (sel) {  // the table's way: choose the row
      sel.addEventListener("change", function () {
        var task = byId(sel.getAttribute("data-gantt-row"));
        if (!task) return;
        var chosen = null;
        rows.forEach(function (r) { if (String(r[0]) === sel.value) chosen = r[0]; });
        if (chosen === null) return;
        drop = {id: task.id, group: chosen};
        flush();
      });
    });
    var toToday = function () {  // the chart opens at the start of the window the page names (the library: at its earliest bar)
      var from = new Date(svg.getAttribute("data-from") + "T00:00:00");
      var box = scroller(), hours = (from.getTime() - gantt.gantt_start.getTime()) / 3600000;
      if (box && gantt.options.step) box.scrollLeft = Math.max(0, hours / gantt.options.step * gantt.options.column_width);
    };
    toToday();
    document.querySelectorAll("[data-gantt-mode]").forEach(function (b) {
      b.addEventListener("click", function () {
        gantt.change_view_mode(b.getAttribute("data-gantt-mode"));
        toToday();
        document.querySelectorAll("[data-gantt-mode]").forEach(function (o) { o.setAttribute("aria-pressed", o === b ? "true" : "false"); });
      });
    });
  }
})();
