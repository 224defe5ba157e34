// Real-time chat of a consulta (Socket.IO namespace /chat). The page works without this
// file: the form posts to the server. With it, messages arrive live, unacknowledged ones
// wait in an outbox (keyed by client_msg_id) and are resent after a reconnect, and the
// join after a reconnect asks only for what was missed (after_id).
(function () {
  "use strict";

  var section = document.getElementById("chat");
  if (!section || typeof window.io !== "function") { return; }

  var consultationId = parseInt(section.dataset.consultationId, 10);
  var me = parseInt(section.dataset.userId, 10);
  var otherRead = parseInt(section.dataset.otherRead || "0", 10);
  var list = document.getElementById("mensajes");
  var empty = document.getElementById("sin-mensajes");
  var statusEl = document.getElementById("chat-estado");
  var typingEl = document.getElementById("escribiendo");
  var form = document.getElementById("chat-form");
  var textarea = form ? form.querySelector("textarea") : null;
  var errorEl = document.getElementById("chat-error");
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var storageKey = "sv-chat-outbox-" + consultationId;
  var outbox = new Map();
  var live = false;
  var lastTypingSent = 0;
  var lastReadSent = 0;
  var typingTimer = null;

  var ERRORS = {
    rate_limited: "Estás enviando mensajes muy seguido. Espera unos segundos; tu texto sigue en el cuadro.",
    closed: "Esta consulta ya no recibe mensajes.",
    forbidden: "No tienes permiso para escribir en esta consulta.",
    not_found: "Esta consulta ya no existe.",
    invalid: "No pudimos enviar el mensaje. Revisa el texto e inténtalo de nuevo.",
    unauthenticated: "Tu sesión terminó. Vuelve a ingresar; tu texto sigue en el cuadro."
  };

  function setStatus(text) { if (statusEl) { statusEl.textContent = text; } }
  function setError(text) { if (errorEl) { errorEl.textContent = text || ""; } }

  function newId() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID();
    }
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  function saveOutbox() {
    try {
      var items = [];
      outbox.forEach(function (item, id) { items.push({ id: id, body: item.body }); });
      window.sessionStorage.setItem(storageKey, JSON.stringify(items));
    } catch (e) { /* storage may be disabled: the outbox still lives in memory */ }
  }

  function loadOutbox() {
    try {
      var items = JSON.parse(window.sessionStorage.getItem(storageKey) || "[]");
      items.forEach(function (item) {
        if (!document.querySelector('[data-client-msg-id="' + CSS.escape(item.id) + '"][data-id]')) {
          outbox.set(item.id, { body: item.body, element: renderPending(item.body) });
        }
      });
    } catch (e) { /* ignore a broken entry */ }
  }

  function lastId() {
    var max = 0;
    list.querySelectorAll("li[data-id]").forEach(function (li) {
      var id = parseInt(li.dataset.id, 10);
      if (id > max) { max = id; }
    });
    return max;
  }

  function formatTime(iso) {
    try {
      return new Date(iso).toLocaleString("es-CL", {
        day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
        timeZone: "America/Santiago"
      });
    } catch (e) { return ""; }
  }

  function bubble(mine) {
    var li = document.createElement("li");
    li.className = "chat-msg card mb-2 " + (mine ? "mine border-primary" : "theirs");
    var body = document.createElement("div");
    body.className = "card-body py-2 px-3";
    li.appendChild(body);
    return { li: li, body: body };
  }

  // body_html comes from the server, already rendered and sanitized; everything else is
  // inserted as text.
  function render(msg) {
    var mine = msg.author_id === me;
    var parts = bubble(mine);
    parts.li.id = "m" + msg.id;
    parts.li.dataset.id = String(msg.id);
    parts.li.dataset.authorId = String(msg.author_id);
    parts.li.dataset.clientMsgId = msg.client_msg_id;
    var meta = document.createElement("p");
    meta.className = "small mb-1";
    var author = document.createElement("strong");
    author.className = "chat-author";
    author.textContent = mine ? "Tú" : msg.author_name;
    meta.appendChild(author);
    if (msg.author_role === "advisor" || msg.author_role === "admin") {
      var role = document.createElement("span");
      role.className = "text-muted";
      role.textContent = msg.author_role === "advisor" ? " · asesor/a" : " · equipo";
      meta.appendChild(role);
    }
    var time = document.createElement("time");
    time.className = "text-muted ms-1";
    time.dateTime = msg.created_at;
    time.textContent = " " + formatTime(msg.created_at);
    meta.appendChild(time);
    if (mine) {
      var mark = document.createElement("span");
      mark.className = "read-mark small text-success ms-1";
      mark.textContent = "✓ Leído";
      mark.hidden = msg.id > otherRead;
      meta.appendChild(mark);
    }
    var text = document.createElement("div");
    text.className = "chat-body";
    text.innerHTML = msg.body_html;
    parts.body.appendChild(meta);
    parts.body.appendChild(text);
    return parts.li;
  }

  function renderPending(body) {
    var parts = bubble(true);
    parts.li.classList.add("pending", "opacity-75");
    var meta = document.createElement("p");
    meta.className = "small mb-1 text-muted";
    meta.textContent = "Tú · enviando…";
    var text = document.createElement("div");
    text.className = "chat-body text-break";
    text.textContent = body;
    parts.body.appendChild(meta);
    parts.body.appendChild(text);
    list.appendChild(parts.li);
    if (empty) { empty.hidden = true; }
    return parts.li;
  }

  function upsert(msg) {
    if (msg.consultation_id !== consultationId || document.getElementById("m" + msg.id)) {
      return;
    }
    var li = render(msg);
    var pending = msg.author_id === me ? outbox.get(msg.client_msg_id) : null;
    if (pending && pending.element && pending.element.parentNode) {
      pending.element.replaceWith(li);
    } else {
      var after = null;
      list.querySelectorAll("li[data-id]").forEach(function (other) {
        if (parseInt(other.dataset.id, 10) > msg.id && after === null) { after = other; }
      });
      list.insertBefore(li, after || firstPending());
    }
    if (pending) { outbox.delete(msg.client_msg_id); saveOutbox(); }
    if (empty) { empty.hidden = true; }
    if (msg.author_id !== me && typingEl) { typingEl.textContent = ""; }
    markRead();
  }

  function firstPending() { return list.querySelector("li.pending"); }

  function showReadMarks() {
    list.querySelectorAll("li.mine[data-id]").forEach(function (li) {
      var mark = li.querySelector(".read-mark");
      if (mark) { mark.hidden = parseInt(li.dataset.id, 10) > otherRead; }
    });
  }

  function markRead() {
    var upTo = lastId();
    if (!live || document.visibilityState !== "visible" || upTo <= lastReadSent) { return; }
    lastReadSent = upTo;
    socket.emit("read", { consultation_id: consultationId, up_to_id: upTo });
  }

  function fail(id, code) {
    var item = outbox.get(id);
    outbox.delete(id);
    saveOutbox();
    if (item && item.element) { item.element.remove(); }
    if (item && textarea && !textarea.value.trim()) { textarea.value = item.body; }
    setError(ERRORS[code] || ERRORS.invalid);
  }

  function send(id) {
    var item = outbox.get(id);
    if (!item || !socket.connected) { return; }
    socket.timeout(10000).emit("send", {
      consultation_id: consultationId, body: item.body, client_msg_id: id
    }, function (err, ack) {
      if (err) {  // no ack in time: it stays in the outbox and goes again on reconnect
        setStatus("La conexión está lenta; reintentaremos el envío.");
        return;
      }
      if (ack && ack.ok) { upsert(ack.message); setError(""); } else { fail(id, ack && ack.error); }
    });
  }

  // WebSocket first (no long-polling round trips on a slow network), polling if it fails.
  var socket = window.io("/chat", {
    transports: ["websocket", "polling"],
    tryAllTransports: true,
    auth: function (cb) { cb({ csrf_token: csrfMeta ? csrfMeta.content : "" }); }
  });

  socket.on("connect", function () {
    socket.emit("join", { consultation_id: consultationId, after_id: lastId() }, function (ack) {
      if (!ack || !ack.ok) {
        live = false;
        setStatus(ERRORS[ack && ack.error] || ERRORS.invalid);
        return;
      }
      live = true;
      section.dataset.live = "true";
      setStatus("Conectado: los mensajes llegan al instante.");
      ack.messages.forEach(upsert);
      outbox.forEach(function (_item, id) { send(id); });
      markRead();
    });
  });

  // Socket down (server restarting, Redis gone…): say so, and let the plain form post
  // until the join after the reconnect succeeds; unsent messages wait in the outbox.
  socket.on("disconnect", function () {
    live = false;
    section.dataset.live = "false";
    setStatus("Sin conexión en vivo, reconectando… Mientras tanto, el formulario envía tus mensajes.");
  });

  socket.on("connect_error", function (err) {
    setStatus("No pudimos conectar el chat en vivo; el formulario sigue funcionando.");
    if (err && (err.message === "unauthenticated" || err.message === "forbidden")) {
      live = false;
      socket.disconnect();
    }
  });

  socket.on("message", upsert);

  socket.on("typing", function (data) {
    if (!typingEl || data.consultation_id !== consultationId) { return; }
    typingEl.textContent = data.name + " está escribiendo…";
    window.clearTimeout(typingTimer);
    typingTimer = window.setTimeout(function () { typingEl.textContent = ""; }, 4000);
  });

  socket.on("read", function (data) {
    if (data.consultation_id !== consultationId || data.user_id === me) { return; }
    if (data.up_to_id > otherRead) { otherRead = data.up_to_id; showReadMarks(); }
  });

  document.addEventListener("visibilitychange", markRead);

  if (form && textarea) {
    loadOutbox();
    form.addEventListener("submit", function (event) {
      if (!live) { return; }  // no live chat: the plain form posts
      event.preventDefault();
      var body = textarea.value.trim();
      if (!body) { setError("Escribe un mensaje antes de enviarlo."); textarea.focus(); return; }
      setError("");
      var id = newId();
      outbox.set(id, { body: body, element: renderPending(body) });
      saveOutbox();
      textarea.value = "";
      textarea.focus();
      send(id);
    });
    textarea.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    textarea.addEventListener("input", function () {
      var now = Date.now();
      if (live && now - lastTypingSent > 2500) {
        lastTypingSent = now;
        socket.emit("typing", { consultation_id: consultationId });
      }
    });
  }
}());
