// Web chat simulator. Respondent text is untrusted: it is only ever set with textContent.
(function () {
  "use strict";
  var KEY = "m360.simulator.session";
  var log = document.getElementById("log");
  var form = document.getElementById("composer");
  var input = document.getElementById("text");
  var phone = document.getElementById("phone");

  function newSession() {
    var bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    var id = "sim-" + Array.from(bytes, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
    localStorage.setItem(KEY, id);
    return id;
  }
  var session = localStorage.getItem(KEY) || newSession();
  var lastId = 0;  // newest message shown; the page polls for what the bot sends on its own
  var busy = false;

  // WhatsApp-style *bold* and _italic_, and links (as a phone shows them), built as DOM nodes (never innerHTML).
  function formatted(parent, text) {
    var re = /(\*[^*\n]+\*|_[^_\n]+_|https?:\/\/[^\s<>"]+)/g, last = 0, m;
    while ((m = re.exec(text)) !== null) {
      parent.appendChild(document.createTextNode(text.slice(last, m.index)));
      var el;
      if (m[0].slice(0, 4) === "http") {
        el = document.createElement("a");
        el.href = m[0];
        el.target = "_blank";
        el.rel = "noopener noreferrer";
        el.textContent = m[0];
      } else {
        el = document.createElement(m[0][0] === "*" ? "strong" : "em");
        el.textContent = m[0].slice(1, -1);
      }
      parent.appendChild(el);
      last = m.index + m[0].length;
    }
    parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function bubble(direction, text) {
    var div = document.createElement("div");
    div.className = "msg " + direction;
    if (direction === "out") { formatted(div, text); } else { div.textContent = text; }
    log.appendChild(div);
    log.scrollTop = log.scrollHeight;
  }

  function options(list) {
    if (!list || !list.length) { return; }
    var box = document.createElement("div");
    box.className = "options";
    list.forEach(function (o) {
      var b = document.createElement("button");
      b.type = "button";
      b.textContent = o.label;
      b.addEventListener("click", function () { box.remove(); send(o.reply, o.label); });
      box.appendChild(b);
    });
    log.appendChild(box);
    log.scrollTop = log.scrollHeight;
  }

  function clearOptions() {
    Array.prototype.forEach.call(document.querySelectorAll(".options"), function (el) { el.remove(); });
  }

  function post(body, tries) {
    return fetch(phone.dataset.send, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body)
    }).then(function (r) {
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r.json();
    }).catch(function (err) {
      // Bad connection: retry with the same id; the server answers a repeated id without reprocessing it.
      if (tries > 0) { return new Promise(function (ok) { setTimeout(ok, 800); }).then(function () { return post(body, tries - 1); }); }
      throw err;
    });
  }

  function send(text, shown) {
    clearOptions();
    bubble("in", shown || text);
    busy = true;
    var id = (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random());
    post({ session: session, text: text, id: id }, 3).then(function (data) {
      data.replies.forEach(function (r) { bubble("out", r.text); options(r.options); });
      lastId = Math.max(lastId, data.last_id || 0);
    }).catch(function () { bubble("error", "No se pudo enviar. Revise la conexión e intente de nuevo."); })
      .then(function () { busy = false; });
  }

  // Messages the bot starts (ticket updates, invitations) arrive through the outbox.
  function poll() {
    if (busy || !lastId) { return; }
    fetch(phone.dataset.history + "?session=" + encodeURIComponent(session) + "&after=" + lastId)
      .then(function (r) { return r.json(); })
      .then(function (data) {
        if (busy) { return; }
        data.messages.forEach(function (m) {
          if (m.id <= lastId) { return; }  // already shown by a send that finished meanwhile
          if (m.direction === "out") { clearOptions(); bubble("out", m.text); options(m.options); }
          lastId = m.id;
        });
      }).catch(function () { /* offline: try again on the next tick */ });
  }
  setInterval(poll, 4000);

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value.trim();
    if (!text) { return; }
    input.value = "";
    send(text);
  });

  document.getElementById("reset").addEventListener("click", function () {
    session = newSession();
    lastId = 0;
    log.textContent = "";
    input.focus();
  });

  fetch(phone.dataset.history + "?session=" + encodeURIComponent(session)).then(function (r) { return r.json(); }).then(function (data) {
    data.messages.forEach(function (m) { bubble(m.direction, m.text); lastId = Math.max(lastId, m.id); });
    // After a reload: the buttons of the bot's last message, unless the person already answered it.
    var last = data.messages[data.messages.length - 1];
    if (last && last.direction === "out") { options(last.options); }
  });
})();
