// The flagged-flow table: rows drawn from the embedded data (one array per column, texts as
// indexes into `strings`), a page at a time, sorted by a header click, filtered by the text
// box, the verdict menu and `#host=…` / `#pool=…` links.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var t = data.flagged;
  var S = t.strings;
  var n = t.verdict.length;
  var PAGE = 100;
  var table = document.getElementById("flow-table");
  var tbody = table.querySelector("tbody");
  var filter = document.getElementById("filter");
  var verdictMenu = document.getElementById("verdict-filter");
  var status = document.getElementById("status");
  var pageLabel = document.getElementById("page");
  var sortKey = "score";
  var sortDir = -1;
  var page = 0;
  var rank = { mining: 2, suspect: 1, benign: 0 };
  var texts = null;

  // The sort value of row i for a column.
  var columns = {
    verdict: function (i) { return rank[t.verdict[i]]; },
    score: function (i) { return t.score[i]; },
    host: function (i) { return S[t.host[i]]; },
    pool: function (i) { return S[t.pool[i]]; },
    server: function (i) { return S[t.server[i]]; },
    first_seen: function (i) { return t.first_seen[i]; },
    duration: function (i) { return t.last_seen[i] - t.first_seen[i]; },
    packets: function (i) { return t.packets[i]; },
    capture: function (i) { return S[t.capture[i]]; }
  };

  // Lower-case text of every row, made the first time the filter box is used.
  function rowText(i) {
    if (!texts) {
      texts = new Array(n);
      for (var j = 0; j < n; j++) {
        var parts = [S[t.host[j]], S[t.server[j]], S[t.pool[j]], S[t.capture[j]]];
        t.reasons[j].forEach(function (r) { parts.push(S[r]); });
        texts[j] = parts.join(" ").toLowerCase();
      }
    }
    return texts[i];
  }

  function when(s) {
    if (!s) return "";
    return new Date(s * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, "");
  }

  function linkFilter() {
    var m = /^#(host|pool)=(.*)$/.exec(location.hash);
    return m ? { key: m[1], value: decodeURIComponent(m[2]) } : null;
  }

  function selected() {
    var q = filter.value.trim().toLowerCase();
    var v = verdictMenu.value;
    var lf = linkFilter();
    var out = [];
    for (var i = 0; i < n; i++) {
      if (v && t.verdict[i] !== v) continue;
      if (lf && S[t[lf.key][i]] !== lf.value) continue;
      if (q && rowText(i).indexOf(q) < 0) continue;
      out.push(i);
    }
    var key = columns[sortKey];
    // The data comes highest verdict and score first: that order needs no sort.
    if (!(sortKey === "score" && sortDir < 0)) {
      out.sort(function (a, b) {
        var x = key(a), y = key(b);
        return (x < y ? -1 : x > y ? 1 : a - b) * (x === y ? 1 : sortDir);
      });
    }
    return out;
  }

  function cell(tr, text, cls) {
    var td = document.createElement("td");
    if (cls) td.className = cls;
    td.textContent = text;
    tr.appendChild(td);
    return td;
  }

  function link(tr, kind, text) {
    var td = document.createElement("td");
    var a = document.createElement("a");
    a.href = "#" + kind + "=" + encodeURIComponent(text);
    a.textContent = text;
    td.appendChild(a);
    tr.appendChild(td);
  }

  function render() {
    var list = selected();
    var pages = Math.max(1, Math.ceil(list.length / PAGE));
    page = Math.min(page, pages - 1);
    var frag = document.createDocumentFragment();
    list.slice(page * PAGE, (page + 1) * PAGE).forEach(function (i) {
      var tr = document.createElement("tr");
      tr.className = t.verdict[i];
      var v = document.createElement("span");
      v.className = "v " + t.verdict[i];
      v.textContent = t.verdict[i];
      cell(tr, "").appendChild(v);
      cell(tr, t.score[i].toFixed(2));
      link(tr, "host", S[t.host[i]]);
      link(tr, "pool", S[t.pool[i]]);
      cell(tr, S[t.server[i]]);
      cell(tr, when(t.first_seen[i]));
      cell(tr, (t.last_seen[i] - t.first_seen[i]).toFixed(1));
      cell(tr, String(t.packets[i]));
      cell(tr, S[t.capture[i]] + "#" + t.flow_id[i]);
      var rs = cell(tr, "", "reasons");
      t.reasons[i].forEach(function (r) {
        var d = document.createElement("div");
        d.textContent = S[r];
        rs.appendChild(d);
      });
      frag.appendChild(tr);
    });
    tbody.textContent = "";
    tbody.appendChild(frag);
    var lf = linkFilter();
    status.textContent = list.length + " of " + n + " flagged flows" +
      (lf ? " (" + lf.key + " " + lf.value + ")" : "");
    pageLabel.textContent = "page " + (page + 1) + " of " + pages;
    table.setAttribute("data-shown", String(list.length));
    Array.prototype.forEach.call(table.querySelectorAll("th[data-key]"), function (th) {
      th.className = th.getAttribute("data-key") === sortKey
        ? (sortDir < 0 ? "sorted-desc" : "sorted-asc") : "";
    });
  }

  Array.prototype.forEach.call(table.querySelectorAll("th[data-key]"), function (th) {
    th.addEventListener("click", function () {
      var key = th.getAttribute("data-key");
      sortDir = key === sortKey ? -sortDir : (key === "score" || key === "verdict" ? -1 : 1);
      sortKey = key;
      render();
    });
  });
  filter.addEventListener("input", function () { page = 0; render(); });
  verdictMenu.addEventListener("change", function () { page = 0; render(); });
  document.getElementById("prev").addEventListener("click", function () {
    if (page > 0) { page -= 1; render(); }
  });
  document.getElementById("next").addEventListener("click", function () { page += 1; render(); });
  window.addEventListener("hashchange", function () {
    page = 0;
    render();
    if (linkFilter()) document.getElementById("flows").scrollIntoView();
  });
  render();
  // Milliseconds from navigation to the first table drawn (benches/report_load.sh reads it).
  document.body.setAttribute("data-ready-ms", String(Math.round(performance.now())));
})();
