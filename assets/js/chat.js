// Real-time chat of a consulta (Socket.IO namespace /chat). The page works without this
// file: the form posts to the server. With it, messages arrive live, unacknowledged ones
// wait in an outbox (keyed by client_msg_id) and are resent after a reconnect, and the
// join after a reconnect asks only for what was missed (after_id). A `status` event makes
// the page fetch its viewer's state (/consultas/<id>/estado) and redraw the badge, the
// actions and the chat form; so does a join whose ack has another state version than the
// one the page shows (a change while it loaded or was disconnected); a message with files is posted as the form (multipart) with
// fetch, and the server broadcasts it like any other. Built with the Socket.IO client into
// static/js/chat.js (assets/build.mjs).
import { io } from "socket.io-client";

(function () {
  "use strict";

  var section = document.getElementById("chat");
  if (!section) { return; }

  var consultationId = parseInt(section.dataset.consultationId, 10);
  var me = parseInt(section.dataset.userId, 10);
  var otherRead = parseInt(section.dataset.otherRead || "0", 10);
  var stateVersion = section.dataset.stateVersion || "";
  var list = document.getElementById("mensajes");
  var empty = document.getElementById("sin-mensajes");
  var statusEl = document.getElementById("chat-estado");
  var typingEl = document.getElementById("escribiendo");
  var form = document.getElementById("chat-form");
  var textarea = form ? form.querySelector("textarea") : null;
  var fileInput = form ? form.querySelector('input[type="file"]') : null;
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

  // The server sends the label the page itself renders (created_label); this fallback
  // keeps the same 24-hour clock in Santiago time.
  function formatTime(msg) {
    if (msg.created_label) { return msg.created_label; }
    try {
      return new Date(msg.created_at).toLocaleString("es-CL", {
        day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
        hourCycle: "h23", timeZone: "America/Santiago"
      });
    } catch (e) { return ""; }
  }

  function renderFiles(items) {
    var ul = document.createElement("ul");
    ul.className = "chat-files list-unstyled small mb-0";
    items.forEach(function (item) {
      var li = document.createElement("li");
      li.appendChild(document.createTextNode("Archivo: "));
      var a = document.createElement("a");
      a.href = item.url;
      a.setAttribute("download", "");
      a.textContent = item.name;
      var size = document.createElement("span");
      size.className = "text-muted";
      size.textContent = " (" + item.size_kb.toLocaleString("es-CL") + " KB)";
      li.appendChild(a);
      li.appendChild(size);
      ul.appendChild(li);
    });
    return ul;
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
    time.textContent = formatTime(msg);
    meta.appendChild(document.createTextNode(" "));
    meta.appendChild(time);
    if (mine) {
      var mark = document.createElement("span");
      mark.className = "read-mark small text-success ms-1";
      mark.textContent = "✓ Leído";
      mark.hidden = msg.id > otherRead;
      meta.appendChild(mark);
    }
    var text = document.createElement("div");
    text.className = "chat-body sv-wrap-anywhere";
    text.innerHTML = msg.body_html;
    parts.body.appendChild(meta);
    parts.body.appendChild(text);
    if (msg.attachments && msg.attachments.length) {
      parts.body.appendChild(renderFiles(msg.attachments));
    }
    return parts.li;
  }

  function renderPending(body) {
    var parts = bubble(true);
    parts.li.classList.add("pending", "opacity-75");
    var meta = document.createElement("p");
    meta.className = "small mb-1 text-muted";
    meta.textContent = "Tú · enviando…";
    var text = document.createElement("div");
    text.className = "chat-body sv-wrap-anywhere";
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

  // A refused message goes back into the box, with the server's reason in Spanish; a
  // state that changed meanwhile (resolved, closed, taken by someone else) is redrawn.
  function fail(id, code, message) {
    var item = outbox.get(id);
    outbox.delete(id);
    saveOutbox();
    if (item && item.element) { item.element.remove(); }
    if (item && textarea && !textarea.value.trim()) { textarea.value = item.body; }
    setError(message || ERRORS[code] || ERRORS.invalid);
    if (code === "closed" || code === "forbidden" || code === "invalid") { refreshState(); }
  }

  // The viewer's state: the server renders each changing part, so the page shows exactly
  // what a reload would (and never builds buttons from what the broadcast says).
  var stateUrl = "/consultas/" + consultationId + "/estado";
  var stateRequest = 0;
  function refreshState() {
    if (!window.fetch) { return; }
    var ticket = ++stateRequest;
    fetch(stateUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (state) {
        if (!state || ticket !== stateRequest) { return; }
        stateVersion = state.state_version || "";
        Object.keys(state.regions || {}).forEach(function (name) {
          var region = document.getElementById(name);
          if (region && region.innerHTML !== state.regions[name]) {
            region.innerHTML = state.regions[name];
          }
        });
        section.dataset.status = state.status;
        section.dataset.canPost = state.can_post ? "true" : "false";
        if (form) {
          // Keep a half-written text visible: sending it then says why it cannot go.
          var typing = textarea && textarea.value.trim();
          form.hidden = !state.can_post && !typing;
          var hint = document.getElementById("tomar-al-responder");
          if (hint && state.status !== "nueva") { hint.remove(); }
        }
        setStatus("Estado de la consulta: " + state.status_label + ".");
      })
      .catch(function () { /* the next status event or a reload will tell */ });
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
      if (ack && ack.ok) {
        upsert(ack.message);
        setError("");
      } else {
        fail(id, ack && ack.error, ack && ack.message);
      }
    });
  }

  // WebSocket first (no long-polling round trips on a slow network), polling if it fails.
  var socket = io("/chat", {
    transports: ["websocket", "polling"],
    tryAllTransports: true,
    auth: function (cb) { cb({ csrf_token: csrfMeta ? csrfMeta.content : "" }); }
  });

  socket.on("connect", function () {
    var join = { consultation_id: consultationId, after_id: lastId(), state_version: stateVersion };
    socket.emit("join", join, function (ack) {
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
      // A change while the page loaded or the socket was down: the page shows another state.
      if (!stateVersion || ack.state_version !== stateVersion) { refreshState(); }
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

  socket.on("status", function (data) {
    if (!data || data.consultation_id !== consultationId) { return; }
    if (data.state_url) { stateUrl = data.state_url; }
    refreshState();
  });

  // A message with files: the form itself goes by fetch (multipart, its CSRF token), the
  // server stores message and files together and broadcasts the message to the room.
  function upload(body) {
    var data = new FormData(form);
    var id = newId();
    data.set("client_msg_id", id);
    data.set("body", body);
    var pending = renderPending(body || "Enviando archivos…");
    var button = form.querySelector('[type="submit"]');
    if (button) { button.disabled = true; }
    setError("");
    fetch(form.action, {
      method: "POST", body: data, credentials: "same-origin",
      headers: { Accept: "application/json" }
    }).then(function (response) {
      return response.json().catch(function () { return { ok: false, error: "invalid" }; });
    }).then(function (ack) {
      pending.remove();
      if (ack.ok) {
        upsert(ack.message);
        textarea.value = "";
        fileInput.value = "";
      } else {
        setError(ack.message || ERRORS[ack.error] || ERRORS.invalid);
        if (ack.error === "closed" || ack.error === "forbidden") { refreshState(); }
      }
    }).catch(function () {
      pending.remove();
      setError("No pudimos subir el archivo: revisa tu conexión e inténtalo de nuevo.");
    }).then(function () {
      if (button) { button.disabled = false; }
      textarea.focus();
    });
  }

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
      var hasFiles = fileInput && fileInput.files && fileInput.files.length > 0;
      if (!live) { return; }  // no live chat: the plain form posts
      event.preventDefault();
      var body = textarea.value.trim();
      if (hasFiles && window.fetch && window.FormData) { upload(body); return; }
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
