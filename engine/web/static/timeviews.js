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
    var editable = svg.getAttribute("data-editable") === "true";
    var gantt = new window.Gantt(svg, tasks, {
      view_mode: "Week", language: svg.getAttribute("data-lang") === "zh" ? "zh" : svg.getAttribute("data-lang"),
      readonly: !editable, custom_popup_html: null,
      on_click: function (task) { window.location.href = task.url; },
      on_date_change: function (task, start, end) {
        var before = {start: task._before_start || task.start, end: task._before_end || task.end};
        move(svg.getAttribute("data-move"), task.id, {start: day(start), end: day(new Date(end.getTime() - 1)), version: task.version},
          function (got) { task.version = got.version; say(gw.moved + " " + task.name, false); },
          function () { gantt.refresh(tasks.map(function (t) { return t.id === task.id ? Object.assign(t, before) : t; })); });
      }
    });
    var toToday = function () {  // the chart opens at the start of the window the page names (the library: at its earliest bar)
      var from = new Date(svg.getAttribute("data-from") + "T00:00:00");
      var box = svg.parentElement, hours = (from.getTime() - gantt.gantt_start.getTime()) / 3600000;
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
