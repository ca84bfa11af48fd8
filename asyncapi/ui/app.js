// The docs page of a kafka-broker-go service: renders its AsyncAPI 3.0.0
// document (the operations, their payload and reply schemas, an example each)
// and, when enabled, a "try it" form per request/reply operation.
"use strict";
(function () {
  const body = document.body;
  const docURL = body.dataset.document;
  const tryOn = body.dataset.try === "on";
  const tryURL = body.dataset.tryUrl;
  const main = document.getElementById("main");
  const toc = document.getElementById("toc");
  let doc = null;

  // el("div", {class: "x", text: "y", data: {k: v}, attrs: {...}}, child, ...)
  function el(tag, opts, ...children) {
    const n = document.createElement(tag);
    opts = opts || {};
    if (opts.class) n.className = opts.class;
    if (opts.text !== undefined) n.textContent = opts.text;
    if (opts.data) for (const [k, v] of Object.entries(opts.data)) n.dataset[k] = v;
    if (opts.attrs) for (const [k, v] of Object.entries(opts.attrs)) n.setAttribute(k, v);
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      n.append(c instanceof Node ? c : String(c));
    }
    return n;
  }
  const code = (text, cls) => el("code", { class: cls, text: text });

  // resolve follows "$ref": "#/a/b" pointers into the document.
  function resolve(node) {
    for (let i = 0; node && typeof node === "object" && typeof node.$ref === "string" && i < 16; i++) {
      node = pointer(node.$ref);
    }
    return node;
  }
  function pointer(ref) {
    if (!ref.startsWith("#/")) return undefined;
    let cur = doc;
    for (const raw of ref.slice(2).split("/")) {
      const tok = raw.replace(/~1/g, "/").replace(/~0/g, "~");
      if (!cur || typeof cur !== "object") return undefined;
      cur = cur[tok];
    }
    return cur;
  }
  const refName = (ref) => ref.slice(ref.lastIndexOf("/") + 1);

  // The parts of an envelope payload (allOf [EventObject, {properties}]).
  function envelope(message) {
    const p = message && message.payload;
    const narrow = p && p.allOf && p.allOf[1] && p.allOf[1].properties;
    return narrow || {};
  }
  function isOpen(schema) {
    if (schema === true || schema === undefined) return true;
    if (typeof schema !== "object") return false;
    return !schema.$ref && !schema.type && !schema.properties && !schema.allOf && !schema.oneOf && !schema.anyOf && !schema.enum && schema.const === undefined;
  }

  function typeLabel(s) {
    if (s === undefined || s === true) return "any";
    if (s.$ref) {
      const t = resolve(s);
      const name = refName(s.$ref);
      return t && t.type && t.type !== "object" ? name + " (" + typeLabel(t) + ")" : name;
    }
    if (s.oneOf || s.anyOf) {
      const alts = (s.oneOf || s.anyOf).filter((a) => a.type !== "null").map(typeLabel);
      const nullable = (s.oneOf || s.anyOf).some((a) => a.type === "null");
      return alts.join(" | ") + (nullable ? " | null" : "");
    }
    let t = s.type;
    if (Array.isArray(t)) t = t.join(" | ");
    if (t === "array") return "array of " + typeLabel(s.items);
    if (!t && s.properties) t = "object";
    if (!t) return "any";
    if (s.format) t += " (" + s.format + ")";
    return t;
  }

  function rules(s) {
    s = s || {};
    const out = [];
    const add = (label) => out.push(el("span", { class: "rule", text: label }));
    if (s.const !== undefined) add("= " + JSON.stringify(s.const));
    if (s.enum) add("one of " + s.enum.map((v) => JSON.stringify(v)).join(" | "));
    if (s.minLength !== undefined && s.minLength === s.maxLength) add("length = " + s.minLength);
    else {
      if (s.minLength !== undefined) add("length ≥ " + s.minLength);
      if (s.maxLength !== undefined) add("length ≤ " + s.maxLength);
    }
    if (s.minimum !== undefined) add("≥ " + s.minimum);
    if (s.exclusiveMinimum !== undefined) add("> " + s.exclusiveMinimum);
    if (s.maximum !== undefined) add("≤ " + s.maximum);
    if (s.exclusiveMaximum !== undefined) add("< " + s.exclusiveMaximum);
    if (s.minItems !== undefined) add("items ≥ " + s.minItems);
    if (s.maxItems !== undefined) add("items ≤ " + s.maxItems);
    if (s.pattern) add("pattern " + s.pattern);
    return out;
  }

  // fieldRows appends a row per property of an object schema, and of the
  // objects nested in it, to tbody.
  function fieldRows(tbody, schema, prefix, depth, seen) {
    const s = resolve(schema);
    if (!s || depth > 4) return;
    const props = s.properties || {};
    const required = new Set(s.required || []);
    for (const [name, raw] of Object.entries(props)) {
      const p = resolve(raw) || {};
      const nameCell = el("td", { class: "name" }, prefix ? el("span", { class: "indent", text: prefix }) : null, code(name));
      if (required.has(name)) nameCell.append(el("span", { class: "req", text: "required" }));
      const desc = raw.description || p.description;
      tbody.append(el("tr", { data: { field: prefix + name } },
        nameCell,
        el("td", { class: "type", text: typeLabel(raw) }),
        el("td", {}, ...rules(raw.$ref ? p : raw), desc ? el("div", { class: "desc", text: desc }) : null)));
      const ref = raw.$ref || (p.items && p.items.$ref);
      if (ref && seen.has(ref)) continue; // recursive type: listed once
      const next = new Set(seen);
      if (ref) next.add(ref);
      if (p.properties) fieldRows(tbody, p, prefix + name + ".", depth + 1, next);
      const items = resolve(p.items);
      if (p.type === "array" && items && items.properties) fieldRows(tbody, items, prefix + name + "[].", depth + 1, next);
    }
  }

  function schemaView(title, schema, openText) {
    const box = el("div", {}, el("h4", {}, title, " ", el("span", { class: "type", text: isOpen(schema) ? "" : typeLabel(schema) })));
    if (isOpen(schema)) {
      box.append(el("p", { class: "open", text: openText || "Any JSON: not described." }));
      return box;
    }
    let s = resolve(schema);
    let prefix = "";
    const seen = new Set(schema.$ref ? [schema.$ref] : []);
    if (s && s.type === "array" && resolve(s.items) && resolve(s.items).properties) {
      if (s.items.$ref) seen.add(s.items.$ref);
      s = resolve(s.items);
      prefix = "[].";
    }
    if (!s || !s.properties) {
      box.append(el("p", { class: "open", text: "A JSON " + typeLabel(schema) + "." }, ...rules(s)));
      return box;
    }
    const tbody = el("tbody");
    fieldRows(tbody, s, prefix, 0, seen);
    box.append(el("table", { class: "fields" },
      el("thead", {}, el("tr", {}, el("th", { text: "field" }), el("th", { text: "type" }), el("th", { text: "details" }))), tbody));
    return box;
  }

  function pretty(v) { return JSON.stringify(v, null, 2); }
  function exampleOf(message) {
    const ex = message && message.examples && message.examples[0];
    return ex && ex.payload;
  }

  const kindLabels = { request: "request / reply", event: "event", untyped: "untyped", send: "send" };

  function renderOperation(id, op) {
    const kind = op.action === "send" ? "send" : (op["x-kind"] || "untyped");
    const key = op["x-routing-key"] || id;
    const msgRef = op.messages && op.messages[0];
    const message = msgRef && resolve(msgRef);
    const art = el("article", { class: "op", attrs: { id: "op-" + id }, data: { key: key, kind: kind, operation: id } });
    art.append(el("div", { class: "op-head" },
      el("span", { class: "badge " + kind, text: kindLabels[kind] || kind }),
      code(key, "key"),
      el("span", { class: "summary", text: op.summary || "" })));
    const bodyEl = el("div", { class: "op-body" });
    art.append(bodyEl);

    const env = envelope(message);
    const reply = op.reply && op.reply.messages && resolve(op.reply.messages[0]);
    const cols = el("div", { class: "cols" + (reply ? "" : " one") });
    cols.append(schemaView("Payload · data", env.data, kind === "untyped" ? "Any JSON: an untyped handler describes no payload." : undefined));
    if (reply) cols.append(schemaView("Reply · data", envelope(reply).data));
    bodyEl.append(cols);

    const ex = exampleOf(message);
    const replyEx = exampleOf(reply);
    const exBox = el("details", { class: "example" }, el("summary", { text: "Example" }));
    if (!(tryOn && kind === "request")) exBox.open = true;
    if (ex) exBox.append(el("h4", {}, "data of ", code(ex.event)), el("pre", { class: "example-data", text: pretty(ex.data) }));
    if (replyEx) exBox.append(el("h4", { text: "data of the reply" }), el("pre", { text: pretty(replyEx.data) }));
    if (ex || replyEx) bodyEl.append(exBox);

    const schemas = { payload: message && message.payload };
    if (reply) schemas.reply = reply.payload;
    bodyEl.append(el("details", {}, el("summary", { text: "Message schemas (JSON Schema of the envelope)" }), el("pre", { text: pretty(schemas) })));

    if (tryOn && kind === "request") bodyEl.append(tryForm(op, key, ex));
    return art;
  }

  function tryForm(op, key, ex) {
    const form = el("form", { class: "try", attrs: { novalidate: "" } });
    const wildcard = key.split(".").some((s) => s === "*" || s === "#");
    const event = el("input", { class: "event", attrs: { name: "event", value: ex ? ex.event : key, spellcheck: "false", "aria-label": "event" } });
    if (!wildcard) event.readOnly = true;
    const initial = pretty(ex ? ex.data : {});
    const data = el("textarea", { attrs: { name: "data", spellcheck: "false", "aria-label": "data" } });
    data.value = initial;
    const send = el("button", { attrs: { type: "submit" }, text: "Send request" });
    const reset = el("button", { class: "secondary", attrs: { type: "button" }, text: "Reset" });
    const out = el("output", { class: "result", attrs: { "aria-live": "polite" } });
    reset.addEventListener("click", () => { data.value = initial; out.textContent = ""; out.className = "result"; });
    form.append(
      el("div", { class: "row" }, el("label", { text: "Try it" }), event),
      data,
      el("div", { class: "row" }, send, reset, el("span", { class: "hint", text: "Sends a request through this service's Manager to " + op["x-location"] + " and waits for the reply." })),
      out);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      let payload;
      try {
        payload = data.value.trim() === "" ? {} : JSON.parse(data.value);
      } catch (err) {
        showResult(out, { error: { error: "not_json", message: "The data is not JSON: " + err.message } });
        return;
      }
      send.disabled = true;
      out.className = "result";
      out.textContent = "Waiting for the reply…";
      try {
        const res = await fetch(tryURL, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ location: op["x-location"], event: event.value, data: payload }),
        });
        let json;
        try { json = await res.json(); } catch (_) { json = { error: { error: "http_" + res.status, message: res.statusText } }; }
        showResult(out, json);
      } catch (err) {
        showResult(out, { error: { error: "network", message: String(err) } });
      } finally {
        send.disabled = false;
      }
    });
    return form;
  }

  function time(unix) {
    if (unix === null || unix === undefined) return "—";
    const d = new Date(unix * 1000);
    return d.toLocaleTimeString([], { hour12: false });
  }

  function showResult(out, res) {
    out.textContent = "";
    const err = res.error;
    const rep = res.reply;
    let cls = "ok";
    let status = rep ? rep.status : "completed";
    if (err) {
      cls = err.error === "reply_timeout" || err.error === "timeout" ? "timeout" : "error";
      status = rep ? "error reply" + (err.status_code ? " · " + err.status_code : "") : err.error;
    }
    out.className = "result " + cls;
    const meta = [];
    if (res.correlation_id) meta.push("correlation ID " + res.correlation_id);
    if (res.elapsed_ms !== undefined) meta.push(res.elapsed_ms.toFixed(1) + " ms");
    out.append(el("div", {}, el("span", { class: "status", text: status }), el("span", { class: "meta", text: meta.join(" · ") })));
    const fields = (err && err.fields) || [];
    if (err && err.message && !fields.length) out.append(el("div", { class: "message", text: err.message }));
    if (fields.length) {
      const ul = el("ul", { class: "field-errors" });
      for (const f of fields) {
        ul.append(el("li", { class: "field-error", data: { field: f.field, tag: f.tag } },
          f.message, " ", el("span", { class: "rule", text: f.field + " · " + f.tag })));
      }
      out.append(ul);
    }
    if (rep && !err) out.append(el("h4", { text: "reply data" }), el("pre", { class: "reply-data", text: pretty(rep.data) }));
    if (rep && rep.audit_log && rep.audit_log.length) {
      const tb = el("tbody");
      rep.audit_log.forEach((a, i) => tb.append(el("tr", {},
        el("td", { text: String(i + 1) }), el("td", {}, code(a.location)), el("td", {}, code(a.event)),
        el("td", { text: time(a.time_sent) }), el("td", { text: time(a.time_received) }))));
      out.append(el("h4", { text: "audit log" }), el("table", { class: "audit" },
        el("thead", {}, el("tr", {}, ...["#", "location", "event", "sent", "received"].map((h) => el("th", { text: h })))), tb));
    }
  }

  function conventions() {
    const sec = el("section", { class: "conventions" }, el("h2", { text: "Conventions" }));
    const traits = (doc.components && doc.components.messageTraits) || {};
    const env = traits.envelope;
    if (env) sec.append(el("p", { class: "muted", text: env.summary + " " + (env.description || "") }));
    const schemas = (doc.components && doc.components.schemas) || {};
    if (schemas.EventObject) sec.append(el("div", { class: "card" }, schemaView("Envelope", { $ref: "#/components/schemas/EventObject" })));
    const cols = el("div", { class: "cols" });
    if (traits.kafkaHeaders) cols.append(el("div", { class: "card" }, schemaView("Kafka headers", traits.kafkaHeaders.headers)));
    if (schemas.ErrorReplyData) cols.append(el("div", { class: "card" }, schemaView("Error reply · data", { $ref: "#/components/schemas/ErrorReplyData" })));
    sec.append(cols);
    return sec;
  }

  function render(d) {
    doc = d;
    const info = doc.info || {};
    const title = document.getElementById("title");
    title.textContent = info.title || "Kafka API";
    title.append(el("span", { class: "version", text: "v" + (info.version || "?") }));
    document.title = (info.title || "Kafka API") + " · Kafka API";
    const sub = document.getElementById("subtitle");
    sub.textContent = "";
    if (info.description) sub.append(info.description, " · ");
    sub.append("AsyncAPI " + doc.asyncapi + " · ", el("a", { attrs: { href: docURL }, text: "asyncapi.json" }),
      tryOn ? el("span", { class: "pill", text: "try it enabled" }) : "");

    const ops = Object.entries(doc.operations || {});
    const byLocation = new Map();
    for (const [id, op] of ops) {
      const loc = op["x-location"] || "";
      if (!byLocation.has(loc)) byLocation.set(loc, []);
      byLocation.get(loc).push([id, op]);
    }
    main.textContent = "";
    toc.textContent = "";
    const order = { request: 0, event: 1, untyped: 2, send: 3 };
    for (const [loc, list] of byLocation) {
      list.sort((a, b) => {
        const ka = a[1].action === "send" ? "send" : a[1]["x-kind"], kb = b[1].action === "send" ? "send" : b[1]["x-kind"];
        return (order[ka] - order[kb]) || String(a[1]["x-routing-key"] || a[0]).localeCompare(String(b[1]["x-routing-key"] || b[0]));
      });
      const ch = doc.channels && doc.channels[loc];
      const receive = list.filter(([, op]) => op.action === "receive");
      const send = list.filter(([, op]) => op.action === "send");
      const group = receive.length && receive[0][1].bindings && receive[0][1].bindings.kafka && receive[0][1].bindings.kafka.groupId;
      const dlq = send.length && resolve(send[0][1].channel);
      const sec = el("section", { class: "service", data: { location: loc } },
        el("h2", { class: "service" }, "Topic ", code(loc)),
        el("p", { class: "service-meta" },
          (ch && ch.description) || "",
          group && group.enum ? " Consumer group " : "", group && group.enum ? code(group.enum[0]) : "",
          dlq ? ". Dead letters go to " : "", dlq ? code(dlq.address) : "", dlq ? "." : ""));
      const tocList = el("ul");
      toc.append(el("h3", { text: loc }), tocList);
      for (const [id, op] of receive) {
        sec.append(renderOperation(id, op));
        const kind = op["x-kind"] || "untyped";
        tocList.append(el("li", {}, el("a", { attrs: { href: "#op-" + id, title: kindLabels[kind] } },
          el("span", { class: "dot " + kind }), code(op["x-routing-key"] || id))));
      }
      if (!receive.length) sec.append(el("p", { class: "open", text: "No handlers are bound yet." }));
      main.append(sec);
    }
    main.append(conventions());
    body.dataset.ready = "true";
  }

  function showError(err) {
    main.textContent = "";
    main.append(el("div", { class: "error-banner", text: "Could not load " + docURL + ": " + err }));
    document.getElementById("subtitle").textContent = "";
    body.dataset.ready = "error";
  }

  fetch(docURL, { headers: { Accept: "application/json" } })
    .then((r) => (r.ok ? r.json() : r.text().then((t) => Promise.reject(new Error(r.status + " " + t)))))
    .then(render)
    .catch(showError);
})();
