// The form designer: arrange fields and sections by dragging their handle or with their ↑ ↓ buttons,
// move a field to another section from its "Move to" list, add sections, and put names into conditions.
// The page is one form: moving a row moves its hidden `item` input, so the server reads the order as shown.
(function () {
  "use strict";
  var form = document.querySelector("form[data-designer]");
  if (!form) return;
  var live = document.getElementById("designer-live");

  function say(text) { if (live) live.textContent = text; }
  function dirty() { form.dataset.dirty = "1"; }
  function title(row) {
    var s = row.querySelector(".d-title strong, .d-slabel input");
    return s ? (s.value !== undefined ? s.value : s.textContent) || row.getAttribute("data-name") || "" : "";
  }
  function sectionName(sec) {
    var input = sec.querySelector(".d-slabel input");
    return (input && input.value) || sec.getAttribute("data-section");
  }
  function listsOf(kind) {
    return Array.prototype.slice.call(form.querySelectorAll(kind === "field" ? "[data-drop=fields]" : "[data-drop=sections]"));
  }
  function tidy(list) {  // a section's placeholder shows only while it is empty
    var empty = list.querySelector(".d-empty");
    if (empty && list.querySelector(".d-field")) empty.remove();
  }
  function place(row, list, before) {
    list.insertBefore(row, before || null);
    tidy(list);
    dirty();
  }

  // ---- drag and drop (HTML5), by the handle
  var dragged = null, kind = null, marker = null;
  form.addEventListener("dragstart", function (e) {
    var grip = e.target.closest && e.target.closest("[data-drag]");
    if (!grip) return;
    kind = grip.getAttribute("data-drag");
    dragged = grip.closest(kind === "field" ? ".d-field" : ".d-section");
    dragged.classList.add("dragging");
    e.dataTransfer.effectAllowed = "move";
    e.dataTransfer.setData("text/plain", dragged.id);
    e.dataTransfer.setDragImage(dragged, 10, 10);
  });
  function target(e) {
    var list = e.target.closest && e.target.closest(kind === "field" ? "[data-drop=fields]" : "[data-drop=sections]");
    if (!list) return null;
    var items = Array.prototype.filter.call(list.children, function (c) {
      return c !== dragged && c.classList.contains(kind === "field" ? "d-field" : "d-section");
    });
    var before = null;
    for (var i = 0; i < items.length; i++) {
      var r = items[i].getBoundingClientRect();
      if (e.clientY < r.top + r.height / 2) { before = items[i]; break; }
    }
    return {list: list, before: before};
  }
  function clearMarker() {
    if (marker) { marker.classList.remove("drop-before", "drop-end"); marker = null; }
  }
  form.addEventListener("dragover", function (e) {
    if (!dragged) return;
    var t = target(e);
    if (!t) return;
    e.preventDefault();
    clearMarker();
    marker = t.before || t.list;
    marker.classList.add(t.before ? "drop-before" : "drop-end");
  });
  form.addEventListener("drop", function (e) {
    if (!dragged) return;
    var t = target(e);
    clearMarker();
    if (!t) return;
    e.preventDefault();
    place(dragged, t.list, t.before);
    say(kind === "field" ? title(dragged) + " → " + sectionName(t.list.closest(".d-section") || t.list.closest("section")) : sectionName(dragged));
  });
  form.addEventListener("dragend", function () {
    clearMarker();
    if (dragged) dragged.classList.remove("dragging");
    dragged = null;
  });

  // ---- keyboard: ↑ ↓ within a list, and over its edge into the next list
  function step(row, dir, rowClass, kindName) {
    var sib = dir < 0 ? row.previousElementSibling : row.nextElementSibling;
    while (sib && !sib.classList.contains(rowClass)) sib = dir < 0 ? sib.previousElementSibling : sib.nextElementSibling;
    var list = row.parentNode;
    if (sib) {
      list.insertBefore(row, dir < 0 ? sib : sib.nextElementSibling);
    } else {
      var lists = listsOf(kindName), i = lists.indexOf(list), next = lists[i + dir];
      if (i < 0) next = dir < 0 ? lists[lists.length - 2] : lists[lists.length - 1];  // from "not placed": into the last section, or off the form
      if (!next) return false;
      dir < 0 ? next.appendChild(row) : next.insertBefore(row, next.firstElementChild);
      tidy(next);
    }
    dirty();
    return true;
  }
  form.addEventListener("click", function (e) {
    var b = e.target.closest("button");
    if (!b) return;
    if (b.closest("summary")) e.preventDefault();  // a button on a field's row does not open its editor
    if (b.hasAttribute("data-dmove")) {
      var row = b.closest(".d-field");
      if (step(row, parseInt(b.getAttribute("data-dmove"), 10), "d-field", "field")) {
        b.focus();
        say(title(row) + " → " + sectionName(row.closest(".d-section") || row.closest("section")));
      }
    } else if (b.hasAttribute("data-smove")) {
      var sec = b.closest(".d-section");
      if (step(sec, parseInt(b.getAttribute("data-smove"), 10), "d-section", "section")) { b.focus(); say(sectionName(sec)); }
    } else if (b.hasAttribute("data-add-section")) {
      var tpl = document.getElementById("new-section-template");
      var key = "s" + Date.now().toString(36);
      var holder = document.createElement("div");
      holder.innerHTML = tpl.innerHTML.replace(/__key__/g, key);
      var card = holder.firstElementChild;
      b.closest(".d-tab").querySelector("[data-drop=sections]").appendChild(card);
      if (window.htmx) window.htmx.process(card);
      card.querySelector(".d-slabel input").focus();
      dirty();
    } else if (b.hasAttribute("data-dremove")) {
      var gone = b.closest(".d-field");
      say(title(gone));
      gone.remove();
      dirty();
    } else if (b.hasAttribute("data-insert")) {
      insert(b.getAttribute("data-insert"));
    }
  });

  // ---- "Move to": the sections as they stand now, and "left off the form"
  form.addEventListener("focusin", function (e) {
    if (e.target.matches("select[data-moveto]")) fillMoveTo(e.target);
    if (e.target.matches("[data-condition]")) lastCondition = e.target;
  });
  form.addEventListener("mousedown", function (e) {
    if (e.target.matches && e.target.matches("select[data-moveto]")) fillMoveTo(e.target);
  });
  function fillMoveTo(select) {
    var here = select.closest(".d-field").parentNode;
    var keep = select.options[0].cloneNode(true);
    select.innerHTML = "";
    select.appendChild(keep);
    form.querySelectorAll(".d-section").forEach(function (sec) {
      var list = sec.querySelector("[data-drop=fields]");
      if (list === here) return;
      var o = document.createElement("option");
      o.value = sec.id;
      o.textContent = sectionName(sec);
      select.appendChild(o);
    });
    var pool = form.querySelector("[data-pool]");
    if (pool !== here) {
      var p = document.createElement("option");
      p.value = "pool";
      p.textContent = pool.closest("section").querySelector("h2").textContent;
      select.appendChild(p);
    }
  }
  form.addEventListener("change", function (e) {
    if (!e.target.matches("select[data-moveto]") || !e.target.value) return;
    var row = e.target.closest(".d-field");
    var list = e.target.value === "pool" ? form.querySelector("[data-pool]") : document.getElementById(e.target.value).querySelector("[data-drop=fields]");
    place(row, list, null);
    say(title(row) + " → " + e.target.options[e.target.selectedIndex].textContent);
    e.target.value = "";
    row.scrollIntoView({block: "center"});
  });

  // ---- names helper: a click puts the name into the condition being written
  var lastCondition = null;
  function insert(text) {
    var input = lastCondition;
    if (!input) { say(text); return; }
    var start = input.selectionStart != null ? input.selectionStart : input.value.length;
    var end = input.selectionEnd != null ? input.selectionEnd : input.value.length;
    input.value = input.value.slice(0, start) + text + input.value.slice(end);
    input.focus();
    input.setSelectionRange(start + text.length, start + text.length);
    input.dispatchEvent(new Event("change", {bubbles: true}));
    dirty();
  }

  // ---- a field added from the side panel: clear the panel, show the new row
  document.body.addEventListener("htmx:afterSwap", function (e) {
    if (!e.detail.target.matches || !e.detail.target.matches("[data-drop=fields]")) return;
    tidy(e.detail.target);
    form.querySelectorAll("#add-field input, #add-field textarea").forEach(function (el) { el.value = ""; });
    document.getElementById("add-field-msg").innerHTML = "";
    var rows = e.detail.target.querySelectorAll(".d-field");
    var row = rows[rows.length - 1];
    if (row) { row.scrollIntoView({block: "center"}); row.classList.add("just-added"); say(title(row)); }
    dirty();
  });
})();
