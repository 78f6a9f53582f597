// Behaviour for the generated screens. No inline scripts anywhere, so a strict CSP can apply.
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="csrf-token"]');
  document.addEventListener("htmx:configRequest", function (e) {
    if (csrf) e.detail.headers["X-CSRF-Token"] = csrf.content;
    // a form with file inputs recomputes without its files: they go up once, when it is saved
    var data = e.detail.formData;
    if (data && e.detail.elt && e.detail.elt.matches && e.detail.elt.matches("form.record-form")) {
      Array.from(data.keys()).forEach(function (k) {
        if (data.getAll(k).some(function (v) { return typeof File !== "undefined" && v instanceof File; })) data.delete(k);
      });
    }
  });

  // a file picker says which file is chosen, in the page's words (the browser's own text is hidden)
  document.addEventListener("change", function (e) {
    if (!e.target.matches || !e.target.matches("[data-file-pick]")) return;
    var shown = e.target.closest(".file-pick").querySelector("[data-file-chosen]");
    if (shown) shown.textContent = Array.from(e.target.files || []).map(function (f) { return f.name; }).join(", ");
  });

  // language switcher submits on change
  document.addEventListener("change", function (e) {
    if (e.target.matches("[data-autosubmit]")) e.target.form.submit();
  });

  // line grids: add, remove, move rows; names stay lines-0-..., lines-1-... in page order
  function renumber(editor) {
    var table = editor.getAttribute("data-lines");
    editor.querySelectorAll("[data-rows] > [data-row]").forEach(function (row, i) {
      row.querySelector(".idx").firstChild && row.querySelector(".idx").firstChild.nodeType === 3
        ? (row.querySelector(".idx").firstChild.nodeValue = String(i + 1))
        : row.querySelector(".idx").insertBefore(document.createTextNode(String(i + 1)), row.querySelector(".idx").firstChild);
      row.querySelectorAll("[name],[id],[for],[aria-controls],[hx-target],[hx-get],[hx-vals]").forEach(function (el) {
        ["name", "id", "for", "aria-controls", "hx-target", "hx-get", "aria-describedby", "hx-vals"].forEach(function (attr) {
          var v = el.getAttribute(attr);
          if (v) el.setAttribute(attr, v.replace(new RegExp(table + "-(\\d+|__i__)-"), table + "-" + i + "-"));
        });
      });
    });
  }
  function recompute(form, changed) {
    if (!window.htmx || !form) return;
    var marker = form.querySelector("input[name=_changed]");
    if (marker) marker.value = changed || "";
    window.htmx.trigger(form, "recompute");
  }
  document.addEventListener("click", function (e) {
    document.querySelectorAll("[data-combo] .options").forEach(function (box) {
      if (!box.closest("[data-combo]").contains(e.target)) box.innerHTML = "";  // close other open lists
    });
    if (e.target.closest("[data-close]")) { e.target.closest(".hist").innerHTML = ""; return; }
    var btn = e.target.closest("[data-add-line],[data-remove],[data-move],.opt");
    if (!btn) return;
    if (btn.classList.contains("opt")) return pick(btn);
    var editor = btn.closest("[data-lines]");
    var rows = editor.querySelector("[data-rows]");
    if (btn.hasAttribute("data-add-line")) {
      var tpl = editor.querySelector("template[data-row-template]");
      var row = tpl.content.firstElementChild.cloneNode(true);
      rows.appendChild(row);
      renumber(editor);
      if (window.htmx) window.htmx.process(row);
      var first = row.querySelector("input:not([type=hidden]),select");
      if (first) first.focus();
    } else if (btn.hasAttribute("data-remove")) {
      btn.closest("[data-row]").remove();
      renumber(editor);
    } else {
      var r = btn.closest("[data-row]");
      var dir = parseInt(btn.getAttribute("data-move"), 10);
      var other = dir < 0 ? r.previousElementSibling : r.nextElementSibling;
      if (other) {
        dir < 0 ? rows.insertBefore(r, other) : rows.insertBefore(other, r);
        renumber(editor);
        btn.focus();
      }
    }
    markDirty(editor.closest("form"));
    recompute(editor.closest("form"));
  });

  // link fields: a text box that searches, a hidden input that holds the id
  function pick(opt) {
    var text = document.getElementById(opt.getAttribute("data-for"));
    if (!text) return;
    var combo = text.closest("[data-combo]");
    combo.querySelector("[data-combo-value]").value = opt.getAttribute("data-id");
    text.value = opt.getAttribute("data-title");
    combo.querySelector(".options").innerHTML = "";
    text.setAttribute("aria-expanded", "false");
    text.focus();
    markDirty(text.form);
    recompute(text.form, combo.querySelector("[data-combo-value]").name);
  }
  document.addEventListener("input", function (e) {
    if (e.target.matches("[data-combo-text]")) {
      e.target.closest("[data-combo]").querySelector("[data-combo-value]").value = "";
      e.target.setAttribute("aria-expanded", "true");
    }
  });
  document.addEventListener("keydown", function (e) {
    var t = e.target;
    if (t.matches("[data-combo-text]") && (e.key === "ArrowDown" || e.key === "Enter")) {
      var first = t.closest("[data-combo]").querySelector(".opt");
      if (first) { e.preventDefault(); e.key === "Enter" ? pick(first) : first.focus(); }
    } else if (t.classList && t.classList.contains("opt")) {
      if (e.key === "ArrowDown" && t.nextElementSibling) { e.preventDefault(); t.nextElementSibling.focus(); }
      if (e.key === "ArrowUp") { e.preventDefault(); (t.previousElementSibling || document.getElementById(t.getAttribute("data-for"))).focus(); }
      if (e.key === "Escape") { document.getElementById(t.getAttribute("data-for")).focus(); }
    }
  });

  // any value that computed fields depend on: ask the server to recompute, once typing pauses
  var timer = null;
  function onValue(e) {
    var el = e.target;
    if (el.dataset) el.dataset.typedAt = String(Date.now());
    if (!el.classList || !el.classList.contains("recompute") || !el.form) return;
    clearTimeout(timer);
    var name = el.name, form = el.form;  // the form now: a swap may replace this input before the timer runs
    timer = setTimeout(function () { recompute(form, e.type === "change" ? name : ""); }, 300);
  }
  document.addEventListener("input", onValue);
  document.addEventListener("change", onValue);
  // a recompute's answer must not overwrite what was typed after it was asked for - also when a newer
  // question went out before an older answer came in: each answer is judged by the time of its own question
  document.addEventListener("htmx:beforeRequest", function (e) {
    var now = String(Date.now());
    if (e.detail && e.detail.xhr) e.detail.xhr.engineSentAt = now;
    if (e.detail && e.detail.elt && e.detail.elt.dataset) e.detail.elt.dataset.sentAt = now;
  });
  document.addEventListener("htmx:beforeSwap", function (e) {
    var elt = e.detail && e.detail.elt;
    if (elt && elt.dataset && e.detail.xhr && e.detail.xhr.engineSentAt) elt.dataset.answerTo = e.detail.xhr.engineSentAt;
  });
  document.addEventListener("htmx:oobBeforeSwap", function (e) {
    var target = e.detail && e.detail.target, form = target && target.closest && target.closest("form");
    if (!form || !(form.dataset.answerTo || form.dataset.sentAt)) return;
    var active = document.activeElement;
    if (active && active !== document.body && target.contains(active) && active.matches("input, select, textarea")) {
      e.detail.shouldSwap = false;  // the user is in this field, perhaps typing this very moment: their input wins
      return;
    }
    var sent = Number(form.dataset.answerTo || form.dataset.sentAt);
    target.querySelectorAll("input, select, textarea").forEach(function (el) {
      if (Number(el.dataset.typedAt || 0) > sent) e.detail.shouldSwap = false;
    });
  });

  // tabs: click or arrow keys; panels are plain hidden elements
  function selectTab(tab) {
    var bar = tab.closest("[role=tablist]");
    bar.querySelectorAll("[role=tab]").forEach(function (t) {
      var on = t === tab;
      t.setAttribute("aria-selected", on ? "true" : "false");
      t.tabIndex = on ? 0 : -1;
      document.getElementById(t.getAttribute("aria-controls")).hidden = !on;
    });
    tab.focus();
  }
  document.addEventListener("click", function (e) {
    var tab = e.target.closest("[role=tab]");
    if (tab) selectTab(tab);
  });
  document.addEventListener("keydown", function (e) {
    var tab = e.target.closest && e.target.closest("[role=tab]");
    if (!tab || (e.key !== "ArrowRight" && e.key !== "ArrowLeft")) return;
    var sib = e.key === "ArrowRight" ? tab.nextElementSibling : tab.previousElementSibling;
    if (sib) { e.preventDefault(); selectTab(sib); }
  });

  // leaving a changed form asks first
  function markDirty(form) { if (form && form.hasAttribute("data-guard")) form.dataset.dirty = "1"; }
  document.addEventListener("input", function (e) { markDirty(e.target.form); });
  document.addEventListener("submit", function (e) { if (e.target.dataset) delete e.target.dataset.dirty; });
  window.addEventListener("beforeunload", function (e) {
    if (document.querySelector("form[data-guard][data-dirty]")) { e.preventDefault(); e.returnValue = ""; }
  });

  // record page: a link to #step-<transition> opens that transition's form
  if (location.hash.indexOf("#step-") === 0) {
    var step = document.getElementById(location.hash.slice(1));
    if (step && step.tagName === "DETAILS") { step.open = true; step.scrollIntoView(); }
  }

  // kanban board: drop a card on a column to fire the transition; a refused move snaps back with the reason
  var board = document.querySelector("[data-board]");
  if (board) {
    var dragged = null;
    var message = document.getElementById("board-message");
    var say = function (text) { message.textContent = text || ""; message.hidden = !text; };
    board.addEventListener("dragstart", function (e) {
      var card = e.target.closest && e.target.closest(".kcard");
      if (!card) return;
      dragged = card;
      card.classList.add("dragging");
      e.dataTransfer.effectAllowed = "move";
      e.dataTransfer.setData("text/plain", card.dataset.id);
    });
    board.addEventListener("dragend", function () {
      if (dragged) dragged.classList.remove("dragging");
      board.querySelectorAll(".drop-target").forEach(function (c) { c.classList.remove("drop-target"); });
    });
    board.addEventListener("dragover", function (e) {
      var col = e.target.closest && e.target.closest(".board-col");
      if (!col || !dragged) return;
      e.preventDefault();
      board.querySelectorAll(".drop-target").forEach(function (c) { if (c !== col) c.classList.remove("drop-target"); });
      col.classList.add("drop-target");
    });
    board.addEventListener("drop", function (e) {
      var col = e.target.closest && e.target.closest(".board-col");
      if (!col || !dragged) return;
      e.preventDefault();
      col.classList.remove("drop-target");
      var card = dragged, from = card.parentNode, next = card.nextSibling;
      if (col.dataset.state === card.dataset.state) return;
      col.querySelector(".cards").prepend(card);  // optimistic; undone if the server refuses
      var body = new URLSearchParams({csrf_token: board.dataset.csrf, id: card.dataset.id, to: col.dataset.state});
      fetch(board.dataset.board, {method: "POST", body: body, credentials: "same-origin",
                                  headers: {"Accept": "application/json", "X-CSRF-Token": board.dataset.csrf}})
        .then(function (r) { return r.json(); })
        .then(function (res) {
          if (res.ok) { say(""); location.reload(); return; }
          from.insertBefore(card, next);
          card.classList.add("refused");
          setTimeout(function () { card.classList.remove("refused"); }, 400);
          say(res.message);
          if (res.open) location.href = res.open;
        })
        .catch(function () { from.insertBefore(card, next); say(board.dataset.offline || "The move could not be sent; try again."); });
    });
  }

  // form conditions (visible_when, required_when, readonly_when) as the server evaluated them on the values typed
  document.body.addEventListener("form-conditions", function (e) {
    var d = e.detail && e.detail.value ? e.detail.value : e.detail;
    if (!d || !d.fields) return;
    Object.keys(d.sections || {}).forEach(function (i) {
      var fs = document.getElementById("fs-" + i);
      if (fs) fs.hidden = !d.sections[i];
    });
    Object.keys(d.fields).forEach(function (name) {
      var st = d.fields[name], box = document.getElementById("ff-" + name);
      if (!box) return;
      box.hidden = !st[0];
      var star = box.querySelector("[data-cond-req]");
      if (star) star.hidden = !st[1];
      box.querySelectorAll("input, select, textarea").forEach(function (el) {
        if (el.type === "hidden") return;
        if (st[1]) el.setAttribute("aria-required", "true"); else el.removeAttribute("aria-required");
        if (el.tagName === "SELECT" || el.type === "radio" || el.type === "checkbox") el.disabled = !!st[2];
        else el.readOnly = !!st[2];
      });
    });
  });

  // on a phone, the list's filters fold away unless one is in use
  if (window.matchMedia("(max-width: 720px)").matches) {
    document.querySelectorAll("details[data-filters]:not([data-active])").forEach(function (d) { d.open = false; });
  }

  // the bulk bar: shown once a row is ticked, saying how many (without script it simply stays in view)
  var bulk = document.querySelector("form[data-bulk]");
  function bulkState() {
    var n = document.querySelectorAll('input[type=checkbox][name=ids][form=bulk]:checked').length;
    bulk.hidden = n === 0;
    var count = bulk.querySelector("[data-bulk-count]");
    if (count) count.textContent = count.dataset.template.replace("%(n)s", n);
  }
  if (bulk) {
    bulkState();
    document.addEventListener("change", function (e) {
      if (e.target.name === "ids" && e.target.getAttribute("form") === "bulk") bulkState();
    });
  }

  // a form that asks first (removing a file)
  document.addEventListener("submit", function (e) {
    var ask = e.target.getAttribute && e.target.getAttribute("data-confirm");
    if (ask && !window.confirm(ask)) e.preventDefault();
  });

  // files on a record page: each chosen or dropped file goes on its own, with a progress bar, and
  // the page shows the list again once all have arrived; without script the form posts them at once
  var upload = document.querySelector("form[data-upload]");
  if (upload && window.FormData) {
    var picker = upload.querySelector("[data-upload-input]"), queue = upload.querySelector("[data-uploads]");
    var drop = upload.querySelector(".drop"), most = Number(upload.dataset.max || 0);
    upload.querySelector(".upload-button").hidden = true;
    upload.classList.add("scripted");  // the drop zone itself is the button: the browser's file picker hides
    var sendAll = function (files) {
      var pending = files.length, failed = 0;
      var finish = function () {
        pending -= 1;
        if (pending === 0 && !failed) { location.hash = "files"; location.reload(); }
      };
      Array.prototype.forEach.call(files, function (file) {
        var item = document.createElement("li"), name = document.createElement("span"), bar = document.createElement("progress");
        name.textContent = file.name;
        bar.max = 100; bar.value = 0;
        item.appendChild(name); item.appendChild(bar); queue.appendChild(item);
        var fail = function (text) {
          failed += 1; item.className = "failed"; bar.remove();
          var why = document.createElement("span"); why.className = "error-text"; why.textContent = text; item.appendChild(why);
          finish();
        };
        if (most && file.size > most) { fail(upload.dataset.tooLarge); return; }
        var data = new FormData();
        data.append("csrf_token", upload.querySelector("[name=csrf_token]").value);
        var share = upload.querySelector("[name=shared]");
        if (share && share.checked) data.append("shared", "1");
        data.append("file", file, file.name);
        var xhr = new XMLHttpRequest();
        xhr.open("POST", upload.action);
        xhr.setRequestHeader("X-Upload", "1");
        xhr.upload.onprogress = function (e) { if (e.lengthComputable) bar.value = Math.round(e.loaded * 100 / e.total); };
        xhr.onload = function () {
          if (xhr.status === 204) { bar.value = 100; item.className = "done"; finish(); }
          else fail(xhr.responseText || xhr.statusText);
        };
        xhr.onerror = function () { fail(upload.dataset.netError); };
        xhr.send(data);
      });
    };
    picker.addEventListener("change", function () { if (picker.files.length) sendAll(picker.files); picker.value = ""; });
    ["dragenter", "dragover"].forEach(function (type) {
      drop.addEventListener(type, function (e) { e.preventDefault(); drop.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (type) {
      drop.addEventListener(type, function () { drop.classList.remove("over"); });
    });
    drop.addEventListener("drop", function (e) {
      e.preventDefault();
      if (e.dataTransfer && e.dataTransfer.files.length) sendAll(e.dataTransfer.files);
    });
  }

  // @mentions in a comment: typing @ and the start of a name offers the people who may read the record
  var mentionTimer = null;
  function closeMentions(box) {
    var old = box && box.querySelector(".mention-list");
    if (old) old.remove();
  }
  function mentionAt(area) {
    var before = area.value.slice(0, area.selectionStart);
    var m = /(^|[\s(])@([\w.\-]{0,63})$/.exec(before);
    return m ? { start: before.length - m[2].length - 1, prefix: m[2] } : null;
  }
  function offerMentions(area) {
    var box = area.parentNode, at = mentionAt(area);
    if (!at) { closeMentions(box); return; }
    fetch(area.dataset.mentions + "?q=" + encodeURIComponent(at.prefix), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (people) {
        closeMentions(box);
        if (!people.length || mentionAt(area) === null) return;
        var list = document.createElement("ul");
        list.className = "mention-list";
        list.setAttribute("role", "listbox");
        people.forEach(function (p) {
          var item = document.createElement("li"), btn = document.createElement("button"), who = document.createElement("span");
          btn.type = "button";
          btn.textContent = p.name;
          who.className = "muted small";
          who.textContent = "@" + p.username;
          btn.appendChild(who);
          btn.addEventListener("click", function () {
            var spot = mentionAt(area) || at, caret = area.selectionStart;
            area.value = area.value.slice(0, spot.start) + "@" + p.username + " " + area.value.slice(caret);
            var here = spot.start + p.username.length + 2;
            area.focus();
            area.setSelectionRange(here, here);
            closeMentions(box);
          });
          item.appendChild(btn);
          list.appendChild(item);
        });
        box.appendChild(list);
      })
      .catch(function () { closeMentions(box); });
  }
  document.addEventListener("input", function (e) {
    var area = e.target;
    if (!area.matches || !area.matches("textarea[data-mentions]")) return;
    clearTimeout(mentionTimer);
    mentionTimer = setTimeout(function () { offerMentions(area); }, 150);
  });
  document.addEventListener("keydown", function (e) {
    var area = e.target;
    if (area.matches && area.matches("textarea[data-mentions]")) {
      var list = area.parentNode.querySelector(".mention-list");
      if (list && e.key === "ArrowDown") { e.preventDefault(); list.querySelector("button").focus(); }
      if (list && e.key === "Escape") closeMentions(area.parentNode);
    } else if (area.closest && area.closest(".mention-list")) {
      var items = Array.prototype.slice.call(area.closest(".mention-list").querySelectorAll("button")), i = items.indexOf(area);
      if (e.key === "ArrowDown" && items[i + 1]) { e.preventDefault(); items[i + 1].focus(); }
      if (e.key === "ArrowUp") { e.preventDefault(); (items[i - 1] || area.closest(".mention-box").querySelector("textarea")).focus(); }
      if (e.key === "Escape") { var a = area.closest(".mention-box").querySelector("textarea"); closeMentions(area.closest(".mention-box")); a.focus(); }
    }
  });
})();
