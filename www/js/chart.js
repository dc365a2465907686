/* chart.js - the two charts of the main page, drawn on <canvas>.
 *
 * Labels (model names come from captures) are drawn with fillText and shown
 * in tooltips with textContent: never parsed as HTML. */
'use strict';

(function () {
  var COLORS = {
    ok: '#2f81f7', err: '#e5534b', line: '#d29922', grid: '#e6e9ef', axis: '#6b7280',
    in: '#2f81f7', out: '#8957e5', text: '#374151'
  };
  var FONT = '11px system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "PingFang SC", sans-serif';

  /* Sizes the canvas for its CSS width and the screen's pixel ratio. */
  function prepare(canvas) {
    var ratio = window.devicePixelRatio || 1;
    var width = canvas.parentNode.clientWidth || 300;
    var height = Number(canvas.getAttribute('height')) || 180;
    canvas.style.width = width + 'px';
    canvas.style.height = height + 'px';
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    var ctx = canvas.getContext('2d');
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    ctx.font = FONT;
    return { ctx: ctx, w: width, h: height };
  }

  function niceMax(v) {
    if (!(v > 0)) return 1;
    var p = Math.pow(10, Math.floor(Math.log10(v)));
    var m = v / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
  }

  /* A round step that cuts max into `parts` ticks (1, 2 or 5 times a power of
   * ten; at least minStep), and the axis top it gives. */
  function ticks(max, parts, minStep) {
    var raw = Math.max(max / parts, minStep || 0);
    if (!(raw > 0)) raw = 1;
    var p = Math.pow(10, Math.floor(Math.log10(raw)));
    var m = raw / p;
    var step = (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
    return { step: step, top: step * parts };
  }

  function short(n) {
    if (n >= 1e9) return (n / 1e9).toFixed(1) + 'G';
    if (n >= 1e6) return (n / 1e6).toFixed(1) + 'M';
    if (n >= 1e3) return (n / 1e3).toFixed(n >= 1e4 ? 0 : 1) + 'k';
    return String(Math.round(n));
  }

  function emptyNote(c) {
    c.ctx.fillStyle = COLORS.axis;
    c.ctx.textAlign = 'center';
    c.ctx.fillText(window.I18N.t('chart.empty'), c.w / 2, c.h / 2);
  }

  /* Buckets from from_ms to to_ms, zero-filled where the API sent none. */
  function fillBuckets(tl) {
    var step = tl.bucket_seconds * 1000;
    var byT = {};
    tl.points.forEach(function (p) { byT[p.t] = p; });
    var start = Math.floor(tl.from_ms / step) * step;
    var out = [];
    for (var t = start; t <= tl.to_ms && out.length < 400; t += step) {
      out.push(byT[t] || { t: t, requests: 0, errors: 0, avg_ms: null });
    }
    if (!out.length) tl.points.forEach(function (p) { out.push(p); });
    return out;
  }

  /* An axis label: the day when the chart spans days, else the time. */
  function label(t, span) {
    var d = new Date(t);
    var pad = function (n) { return n < 10 ? '0' + n : String(n); };
    var day = (d.getMonth() + 1) + '/' + d.getDate(), time = pad(d.getHours()) + ':' + pad(d.getMinutes());
    if (span >= 7 * 86400000) return day;
    if (span >= 86400000) return day + ' ' + time;
    return time;
  }

  function timeline(canvas, tip, tl) {
    var c = prepare(canvas);
    var ctx = c.ctx;
    var pts = tl && tl.points && tl.points.length ? fillBuckets(tl) : [];
    canvas._hits = [];
    if (!pts.length) { emptyNote(c); return; }
    var left = 40, right = 46, top = 10, bottom = 22;
    var pw = c.w - left - right, ph = c.h - top - bottom;
    var maxReq = ticks(Math.max.apply(null, pts.map(function (p) { return p.requests; })), 4, 1).top;
    var maxMs = ticks(Math.max.apply(null, pts.map(function (p) { return p.avg_ms || 0; })), 4, 1).top;
    var bw = pw / pts.length;

    ctx.strokeStyle = COLORS.grid;
    ctx.fillStyle = COLORS.axis;
    ctx.lineWidth = 1;
    for (var g = 0; g <= 4; g++) {
      var y = top + ph - (ph * g) / 4;
      ctx.beginPath(); ctx.moveTo(left, y + 0.5); ctx.lineTo(left + pw, y + 0.5); ctx.stroke();
      ctx.textAlign = 'right'; ctx.fillText(short((maxReq * g) / 4), left - 6, y + 4);
      ctx.textAlign = 'left'; ctx.fillText(window.U.ms((maxMs * g) / 4), left + pw + 6, y + 4);
    }
    pts.forEach(function (p, i) {
      var x = left + i * bw;
      var hOk = ((p.requests - p.errors) / maxReq) * ph;
      var hErr = (p.errors / maxReq) * ph;
      var w = Math.max(1, bw - (bw > 4 ? 2 : 0));
      ctx.fillStyle = COLORS.ok; ctx.fillRect(x + 1, top + ph - hOk, w, hOk);
      ctx.fillStyle = COLORS.err; ctx.fillRect(x + 1, top + ph - hOk - hErr, w, hErr);
      canvas._hits.push({ x0: x, x1: x + bw, p: p });
    });
    ctx.strokeStyle = COLORS.line; ctx.lineWidth = 2; ctx.beginPath();
    var started = false;
    pts.forEach(function (p, i) {
      /* an empty bucket has no latency: the line breaks there */
      if (p.avg_ms == null) { started = false; return; }
      var x = left + i * bw + bw / 2, y = top + ph - (p.avg_ms / maxMs) * ph;
      if (!started) { ctx.moveTo(x, y); started = true; } else ctx.lineTo(x, y);
    });
    ctx.stroke();
    /* dots where a point has no neighbour to draw a line to */
    ctx.fillStyle = COLORS.line;
    pts.forEach(function (p, i) {
      if (p.avg_ms == null) return;
      var alone = (i === 0 || pts[i - 1].avg_ms == null) && (i === pts.length - 1 || pts[i + 1].avg_ms == null);
      if (!alone && bw < 10) return;
      ctx.beginPath();
      ctx.arc(left + i * bw + bw / 2, top + ph - (p.avg_ms / maxMs) * ph, 2.5, 0, 2 * Math.PI);
      ctx.fill();
    });
    ctx.fillStyle = COLORS.axis; ctx.textAlign = 'center';
    var span = pts[pts.length - 1].t - pts[0].t, every = Math.max(1, Math.ceil(pts.length / 6));
    for (var i = 0; i < pts.length; i += every) ctx.fillText(label(pts[i].t, span), left + i * bw + bw / 2, c.h - 6);
    attachTip(canvas, tip, function (h) {
      var d = new Date(h.p.t);
      return [d.toLocaleString(), window.I18N.t('chart.tipTime', { n: h.p.requests, e: h.p.errors, ms: window.U.ms(h.p.avg_ms) })];
    });
  }

  function models(canvas, tip, list) {
    var c = prepare(canvas);
    var ctx = c.ctx;
    var rows = (list || []).filter(function (m) { return (m.prompt_tokens || 0) + (m.completion_tokens || 0) > 0 || m.requests > 0; }).slice(0, 8);
    canvas._hits = [];
    if (!rows.length) { emptyNote(c); return; }
    var left = Math.min(150, c.w * 0.34), right = 54, top = 6;
    var rowH = Math.min(26, (c.h - top - 4) / rows.length);
    var max = niceMax(Math.max.apply(null, rows.map(function (m) { return (m.prompt_tokens || 0) + (m.completion_tokens || 0); })));
    var pw = c.w - left - right;
    rows.forEach(function (m, i) {
      var y = top + i * rowH;
      var name = m.model == null ? '(none)' : String(m.model);
      ctx.fillStyle = COLORS.text; ctx.textAlign = 'right';
      var shown = name;
      if (ctx.measureText(name).width > left - 10) {
        while (shown.length > 1 && ctx.measureText(shown + '…').width > left - 10) shown = shown.slice(0, -1);
        shown += '…';
      }
      ctx.fillText(shown, left - 8, y + rowH / 2 + 4);
      var wIn = ((m.prompt_tokens || 0) / max) * pw, wOut = ((m.completion_tokens || 0) / max) * pw;
      var bh = Math.max(4, rowH - 8);
      ctx.fillStyle = COLORS.in; ctx.fillRect(left, y + (rowH - bh) / 2, wIn, bh);
      ctx.fillStyle = COLORS.out; ctx.fillRect(left + wIn, y + (rowH - bh) / 2, wOut, bh);
      ctx.fillStyle = COLORS.axis; ctx.textAlign = 'left';
      ctx.fillText(short((m.prompt_tokens || 0) + (m.completion_tokens || 0)), left + wIn + wOut + 6, y + rowH / 2 + 4);
      canvas._hits.push({ y0: y, y1: y + rowH, m: m, name: name });
    });
    attachTip(canvas, tip, function (h) {
      return [h.name, window.I18N.t('chart.tipModel', { n: window.U.num(h.m.requests), i: window.U.num(h.m.prompt_tokens), o: window.U.num(h.m.completion_tokens) })];
    });
  }

  function attachTip(canvas, tip, describe) {
    if (canvas._tipBound) { canvas._describe = describe; return; }
    canvas._tipBound = true;
    canvas._describe = describe;
    canvas.addEventListener('mousemove', function (ev) {
      var r = canvas.getBoundingClientRect();
      var x = ev.clientX - r.left, y = ev.clientY - r.top;
      var hit = (canvas._hits || []).filter(function (h) {
        return h.x0 != null ? x >= h.x0 && x < h.x1 : y >= h.y0 && y < h.y1;
      })[0];
      if (!hit) { tip.hidden = true; return; }
      var lines = canvas._describe(hit);
      window.U.clear(tip);
      lines.forEach(function (line, i) { tip.appendChild(window.U.el('div', { class: i ? '' : 'tip-title' }, line)); });
      tip.hidden = false;
      var tx = Math.min(x + 12, r.width - tip.offsetWidth - 4);
      tip.style.left = Math.max(0, tx) + 'px';
      tip.style.top = Math.max(0, y - tip.offsetHeight - 8) + 'px';
    });
    canvas.addEventListener('mouseleave', function () { tip.hidden = true; });
  }

  window.Charts = { timeline: timeline, models: models };
})();
