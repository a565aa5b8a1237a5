/* The review page: keyboard shortcuts, a live word diff of the expert's edit, drafts kept in
   this browser until the decision is recorded, and the visible time spent on the item.
   Plain script, no inline handlers (the page runs under a Content-Security-Policy). */
(function () {
  "use strict";

  var root = document.getElementById("review");
  if (!root) return;

  var user = root.dataset.user || "";
  var candidate = root.dataset.candidate || "";
  var PREFIX = "assay:review-draft:";
  var DRAFT_DAYS = 14;
  var busy = false; // a decision is on its way: ignore further shortcuts

  function storage() {
    try {
      return window.localStorage;
    } catch (e) {
      return null; // storage disabled: the page works without drafts
    }
  }
  var ls = storage();

  function announce(text) {
    var live = document.getElementById("review-live");
    if (!live) return;
    live.textContent = text;
    live.hidden = false;
  }

  /* Drafts: the decided candidate's draft goes; old ones are pruned. */
  if (ls) {
    if (root.dataset.decided) ls.removeItem(PREFIX + user + ":" + root.dataset.decided);
    var cutoff = Date.now() - DRAFT_DAYS * 86400000;
    for (var i = ls.length - 1; i >= 0; i--) {
      var k = ls.key(i);
      if (!k || k.indexOf(PREFIX) !== 0) continue;
      try {
        if ((JSON.parse(ls.getItem(k)) || {}).t < cutoff) ls.removeItem(k);
      } catch (e) {
        ls.removeItem(k);
      }
    }
  }

  /* Visible time on the item: the clock stops while the tab is hidden. */
  var spent = parseFloat(root.dataset.spent || "0") || 0;
  var shownAt = document.hidden ? null : performance.now();
  document.addEventListener("visibilitychange", function () {
    if (document.hidden && shownAt !== null) {
      spent += (performance.now() - shownAt) / 1000;
      shownAt = null;
    } else if (!document.hidden && shownAt === null) {
      shownAt = performance.now();
    }
  });
  function seconds() {
    return spent + (shownAt === null ? 0 : (performance.now() - shownAt) / 1000);
  }
  document.addEventListener(
    "submit",
    function (ev) {
      var fields = ev.target.querySelectorAll("input[name=seconds_spent]");
      for (var j = 0; j < fields.length; j++) fields[j].value = seconds().toFixed(1);
      busy = true;
    },
    true
  );
  window.addEventListener("pageshow", function () {
    busy = false; // back from the cache: the page is live again
  });

  /* Word diff and edit distance. */
  function words(s) {
    return s.match(/\s+|\S+/g) || [];
  }

  function diff(a, b) {
    // Common ends first, then an LCS table on what differs (capped; a huge rewrite is
    // shown as one deletion and one insertion).
    var start = 0;
    while (start < a.length && start < b.length && a[start] === b[start]) start++;
    var endA = a.length, endB = b.length;
    while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) { endA--; endB--; }
    var out = [];
    if (start) out.push(["=", a.slice(0, start).join("")]);
    var x = a.slice(start, endA), y = b.slice(start, endB);
    var n = x.length, m = y.length;
    if (n * m > 4000000) {
      if (n) out.push(["-", x.join("")]);
      if (m) out.push(["+", y.join("")]);
    } else {
      var table = [];
      for (var r = 0; r <= n; r++) table.push(new Uint32Array(m + 1));
      for (r = n - 1; r >= 0; r--) {
        for (var c = m - 1; c >= 0; c--) {
          table[r][c] = x[r] === y[c] ? table[r + 1][c + 1] + 1 : Math.max(table[r + 1][c], table[r][c + 1]);
        }
      }
      r = 0;
      c = 0;
      while (r < n || c < m) {
        if (r < n && c < m && x[r] === y[c]) { out.push(["=", x[r]]); r++; c++; }
        else if (r < n && (c === m || table[r + 1][c] >= table[r][c + 1])) { out.push(["-", x[r]]); r++; }
        else { out.push(["+", y[c]]); c++; }
      }
    }
    if (endA < a.length) out.push(["=", a.slice(endA).join("")]);
    // Merge neighbours of the same kind, so a changed phrase is one <ins>, not one per word.
    var merged = [];
    for (var q = 0; q < out.length; q++) {
      var last = merged[merged.length - 1];
      if (last && last[0] === out[q][0]) last[1] += out[q][1];
      else merged.push(out[q].slice());
    }
    return merged;
  }

  function levenshtein(a, b) {
    // On words (whitespace ignored): the fewest insertions, deletions and replacements.
    var start = 0;
    while (start < a.length && start < b.length && a[start] === b[start]) start++;
    var endA = a.length, endB = b.length;
    while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) { endA--; endB--; }
    a = a.slice(start, endA);
    b = b.slice(start, endB);
    if (!a.length || !b.length) return a.length + b.length;
    if (a.length * b.length > 4000000) return Math.max(a.length, b.length);
    var prev = new Uint32Array(b.length + 1), cur = new Uint32Array(b.length + 1);
    for (var j = 0; j <= b.length; j++) prev[j] = j;
    for (var i = 1; i <= a.length; i++) {
      cur[0] = i;
      for (j = 1; j <= b.length; j++) {
        cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      }
      var t = prev; prev = cur; cur = t;
    }
    return prev[b.length];
  }

  function nonBlank(s) {
    return s.split(/\s+/).filter(Boolean);
  }

  var editForm = document.getElementById("edit-form");
  var rejectForm = document.getElementById("reject-form");
  var quickForm = document.getElementById("quick-form");
  var undoForm = document.getElementById("undo-form");
  var prompt = document.getElementById("edited-prompt");
  var response = document.getElementById("edited-response");
  var note = document.getElementById("note");
  var box = document.getElementById("diff");
  var distance = document.getElementById("edit-distance");
  var original = {
    prompt: (document.getElementById("prompt") || {}).textContent || "",
    response: (document.getElementById("response") || {}).textContent || "",
  };
  var reasons = rejectForm ? Array.prototype.slice.call(rejectForm.querySelectorAll("input[name=reasons]")) : [];

  function show(label, ops, into) {
    var changed = ops.some(function (op) { return op[0] !== "="; });
    if (!changed) return false;
    var head = document.createElement("strong");
    head.textContent = label + ": ";
    into.appendChild(head);
    ops.forEach(function (op) {
      var node = op[0] === "=" ? document.createTextNode(op[1]) : document.createElement(op[0] === "+" ? "ins" : "del");
      if (op[0] !== "=") node.textContent = op[1];
      into.appendChild(node);
    });
    into.appendChild(document.createElement("br"));
    return true;
  }

  function renderDiff() {
    if (!box || !prompt || !response) return;
    box.textContent = "";
    var any = show("Prompt", diff(words(original.prompt), words(prompt.value)), box);
    any = show("Response", diff(words(original.response), words(response.value)), box) || any;
    if (!any) box.textContent = "No changes yet.";
    var d = levenshtein(nonBlank(original.prompt), nonBlank(prompt.value)) +
      levenshtein(nonBlank(original.response), nonBlank(response.value));
    if (distance) distance.textContent = String(d) + (d === 1 ? " word" : " words");
  }

  var key = candidate && user ? PREFIX + user + ":" + candidate : null;

  function collect() {
    return {
      prompt: prompt ? prompt.value : original.prompt,
      response: response ? response.value : original.response,
      reasons: reasons.filter(function (r) { return r.checked; }).map(function (r) { return r.value; }),
      note: note ? note.value : "",
      t: Date.now(),
    };
  }

  function saveDraft() {
    if (!ls || !key) return;
    var d = collect();
    var empty = d.prompt === original.prompt && d.response === original.response && !d.reasons.length && !d.note;
    try {
      if (empty) ls.removeItem(key);
      else ls.setItem(key, JSON.stringify(d));
    } catch (e) {
      /* storage full: keep going without the draft */
    }
  }

  function restoreDraft() {
    if (!ls || !key) return;
    var d;
    try {
      d = JSON.parse(ls.getItem(key) || "null");
    } catch (e) {
      d = null;
    }
    if (!d) return;
    var restored = false;
    if (prompt && typeof d.prompt === "string" && d.prompt !== prompt.value) { prompt.value = d.prompt; restored = true; }
    if (response && typeof d.response === "string" && d.response !== response.value) { response.value = d.response; restored = true; }
    if (note && typeof d.note === "string" && d.note && d.note !== note.value) { note.value = d.note; restored = true; }
    if (Array.isArray(d.reasons)) {
      reasons.forEach(function (r) {
        if (d.reasons.indexOf(r.value) !== -1 && !r.checked) { r.checked = true; restored = true; }
      });
    }
    if (restored) announce("Your unsaved work on this item was restored from this browser.");
  }

  if (editForm || rejectForm) {
    restoreDraft();
    renderDiff();
    var timer = null;
    [prompt, response, note].forEach(function (el) {
      if (!el) return;
      el.addEventListener("input", function () {
        saveDraft();
        clearTimeout(timer);
        timer = setTimeout(renderDiff, 120);
      });
    });
    reasons.forEach(function (r) { r.addEventListener("change", saveDraft); });
  }

  /* Keyboard. */
  function typing(el) {
    if (!el || el === document.body) return false;
    if (el.isContentEditable) return true;
    var tag = el.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT") return true;
    return tag === "INPUT" && !/^(checkbox|radio|button|submit|reset|hidden)$/i.test(el.type);
  }

  function submit(form, decision) {
    if (!form || busy) return;
    var button = decision ? form.querySelector("button[name=decision][value=" + decision + "]") : form.querySelector("button");
    if (typeof form.requestSubmit === "function") form.requestSubmit(button || undefined);
    else if (button) button.click();
  }

  document.addEventListener("keydown", function (ev) {
    if (ev.isComposing || ev.defaultPrevented) return;
    var el = document.activeElement;
    if (ev.key === "Escape") {
      if (typing(el) || (el && el.type === "checkbox")) { el.blur(); ev.preventDefault(); }
      return;
    }
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
      if (rejectForm && rejectForm.contains(el)) submit(rejectForm, "reject");
      else if (editForm) submit(editForm, "edit");
      ev.preventDefault();
      return;
    }
    if (typing(el) || ev.ctrlKey || ev.metaKey || ev.altKey || busy) return;
    var handled = true;
    switch (ev.key) {
      case "a": submit(quickForm, "accept"); break;
      case "s": submit(quickForm, "skip"); break;
      case "u": submit(undoForm, null); break;
      case "r":
        if (reasons.length) { reasons[0].focus(); reasons[0].scrollIntoView({ block: "nearest" }); }
        else if (note) note.focus();
        break;
      case "e":
        if (response) { response.focus(); response.scrollIntoView({ block: "nearest" }); }
        break;
      case "Enter":
        if (rejectForm && rejectForm.contains(el) && el.type === "checkbox") submit(rejectForm, "reject");
        else handled = false; // a focused button or link does its own thing
        break;
      default:
        if (/^[1-9]$/.test(ev.key) && reasons[+ev.key - 1]) {
          var box1 = reasons[+ev.key - 1];
          box1.checked = !box1.checked;
          box1.focus();
          saveDraft();
        } else {
          handled = false;
        }
    }
    if (handled) ev.preventDefault();
  });

  /* Time spent survives a reload: kept beside the draft, cleared with it. */
  var TIME = "assay:review-time:" + user + ":";
  if (ls) {
    if (root.dataset.decided) ls.removeItem(TIME + root.dataset.decided);
    if (candidate) {
      var before = parseFloat(ls.getItem(TIME + candidate) || "0") || 0;
      if (before > spent) spent = before;
      var keepTime = function () {
        try {
          ls.setItem(TIME + candidate, seconds().toFixed(1));
        } catch (e) {
          /* storage full */
        }
      };
      setInterval(keepTime, 5000);
      window.addEventListener("pagehide", keepTime);
    }
  }

  /* The lease lives while the expert works: a heartbeat renews it while the page is
     visible, and says at once when it is gone (the typed text stays in the form). */
  var renewUrl = root.dataset.renew;
  var every = (parseFloat(root.dataset.renewEvery || "60") || 60) * 1000;
  var csrf = document.querySelector("input[name=csrfmiddlewaretoken]");
  if (renewUrl && csrf) {
    var renew = function () {
      if (document.hidden || busy) return;
      fetch(renewUrl, { method: "POST", headers: { "X-CSRFToken": csrf.value }, credentials: "same-origin" })
        .then(function (r) {
          return r.json().then(function (body) { return { ok: r.ok, status: r.status, body: body }; });
        })
        .then(function (res) {
          var until = document.querySelector("#lease time");
          if (res.ok && until) {
            until.textContent = res.body.until + " UTC";
            until.setAttribute("datetime", res.body.expires);
          } else if (res.status === 409) {
            var alert = document.getElementById("lease-lost");
            if (alert) {
              alert.textContent = "Your lease on this item ran out and it went back to the queue. " +
                "Your text is kept here and in this browser; copy it, or press Start reviewing.";
              alert.hidden = false;
            }
          }
        })
        .catch(function () {
          /* offline for a moment: the next beat tries again */
        });
    };
    setInterval(renew, every);
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden) renew();
    });
  }

  root.dataset.ready = "1"; // the shortcuts listen from here on (tests wait for it)
})();
