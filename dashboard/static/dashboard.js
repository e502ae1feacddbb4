// Puente dashboard: small enhancements only. Every page works without this file.
// - compose: live segment counts per text and the estimate, from the server's own counting;
// - broadcast: live progress, polled from progress.json until the broadcast is done.
(function () {
  "use strict";

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(fn, ms);
    };
  }

  function compose(form) {
    var url = form.getAttribute("data-estimate-url");
    var summary = document.getElementById("live-estimate");
    var update = debounce(function () {
      var data = new FormData(form);
      data.delete("test_to");
      fetch(url, { method: "POST", body: data, credentials: "same-origin",
                   headers: { "X-CSRF-Token": data.get("csrf_token") || "" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (result) {
          if (!result) { return; }
          form.querySelectorAll("textarea[name^='text.']").forEach(function (area) {
            var code = area.name.slice(5);
            var key = code === "zh" ? "zh_Hans" : code;
            var out = document.getElementById("count-" + code);
            if (!out) { return; }
            var info = result.texts[key];
            out.textContent = area.value.trim() && info ? info.label : "";
          });
          summary.textContent = result.ok ? result.summary : (result.error || "");
        })
        .catch(function () { /* the Preview button still works */ });
    }, 400);
    form.addEventListener("input", update);
    form.addEventListener("change", update);
    update();
  }

  function progress(box) {
    var url = box.getAttribute("data-progress-url");
    if (box.getAttribute("data-finished") === "yes") { return; }
    var refresh = document.getElementById("refresh");
    if (refresh) { refresh.hidden = true; }
    function poll() {
      fetch(url, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) { setTimeout(poll, 3000); return; }
          var status = document.getElementById("status");
          status.textContent = data.status_label;
          status.className = "badge " + data.status;
          var settled = document.getElementById("settled");
          settled.textContent = settled.textContent.replace(/^\S+/, String(data.settled))
            .replace(/\S+(\D*)$/, String(data.recipients) + "$1");
          var bar = document.getElementById("progress-bar");
          bar.max = data.recipients || 1;
          bar.value = data.settled;
          document.getElementById("chart-box").innerHTML = data.chart;
          Object.keys(data.states).forEach(function (state) {
            var cell = document.querySelector("td[data-state='" + state + "']");
            if (cell) { cell.textContent = data.states[state]; }
          });
          var list = document.getElementById("failures");
          if (list && data.failures.length) {
            list.innerHTML = "";
            data.failures.forEach(function (f) {
              var item = document.createElement("li");
              item.textContent = f.state + " · " + (f.reason || "—") + ": " + f.count;
              list.appendChild(item);
            });
          }
          if (data.finished) {
            box.setAttribute("data-finished", "yes");
            var cancel = document.getElementById("cancel-button");
            if (cancel) { cancel.closest("form").hidden = true; }
          } else {
            setTimeout(poll, 1000);
          }
        })
        .catch(function () { setTimeout(poll, 3000); });
    }
    poll();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("compose");
    if (form) { compose(form); }
    var box = document.getElementById("progress");
    if (box) { progress(box); }
  });
}());
