/* detail.js - the request detail page: summary, headers, bodies, stream events, copy and curl. */
'use strict';

(function () {
  var U = window.U, t = window.I18N.t, el = U.el, H = window.Highlight;
  var capture = null, info = { proxy_url: 'http://127.0.0.1:8080' };
  var copies = {};

  function $(id) { return document.getElementById(id); }

  function captureId() {
    var m = location.pathname.match(/^\/request\/([0-9a-fA-F-]{36})$/);
    return m ? m[1] : '';
  }

  function url(c) {
    return c.path + (c.query ? '?' + c.query : '');
  }

  function kv(list, key, value, cls) {
    list.appendChild(el('dt', null, t(key)));
    list.appendChild(el('dd', { class: cls || null }, value == null || value === '' ? '–' : value));
  }

  /* A link to the list filtered by this value (user, instance, session, tag). */
  function filterLink(name, value, cls) {
    var q = new URLSearchParams();
    q.set(name, value);
    return el('a', { href: '/?' + q.toString(), class: cls || null, title: t('k.filterBy') }, value);
  }

  function cost(c) {
    if (c.cost_usd == null) {
      var u = c.usage || {};
      var noUsage = u.prompt_tokens == null && u.completion_tokens == null;
      return el('span', { class: 'cost-none' }, '— ', el('span', { class: 'dim' }, '(' + t(noUsage ? 'cost.noUsage' : 'cost.unpriced') + ')'));
    }
    var shown = U.usd(c.cost_usd), exact = U.usdExact(c.cost_usd);
    return el('span', { id: 'd-cost' }, shown, shown !== exact ? el('span', { class: 'dim' }, '  (' + exact + ')') : null);
  }

  function summary(c) {
    var list = $('summary');
    var u = c.usage;
    U.clear(list);
    kv(list, 'k.id', c.id, 'mono');
    kv(list, 'k.time', U.dateTime(c.timestamp) + '  (' + c.timestamp + ')');
    kv(list, 'k.method', c.method);
    kv(list, 'k.url', url(c), 'mono');
    kv(list, 'k.status', c.status == null ? '–' : String(c.status));
    kv(list, 'k.outcome', c.outcome);
    if (c.error) kv(list, 'k.error', c.error, 'error-text');
    kv(list, 'k.duration', U.ms(c.duration_ms));
    kv(list, 'k.ttfb', U.ms(c.ttfb_ms));
    kv(list, 'k.model', c.model);
    kv(list, 'k.streamed', c.streamed ? t('yes') + (c.sse_events != null ? ' (' + t('detail.eventsCount', { n: c.sse_events }) + ')' : '') : t('no'));
    kv(list, 'k.tokens', [U.num(u.prompt_tokens), U.num(u.completion_tokens), U.num(u.total_tokens)].join(' / '));
    if (u.cached_tokens != null || u.reasoning_tokens != null) kv(list, 'k.cached', U.num(u.cached_tokens) + ' / ' + U.num(u.reasoning_tokens));
    kv(list, 'k.cost', cost(c));
    kv(list, 'k.finish', c.finish_reason);
    kv(list, 'k.key', c.key_hint ? [c.key_hint, c.key_fingerprint ? ['  · ', filterLink('key', c.key_fingerprint)] : null] : null, 'mono');
    kv(list, 'k.instance', c.instance ? filterLink('instance', c.instance) : null);
    if (c.user) kv(list, 'k.user', filterLink('user', c.user));
    if (c.end_user) kv(list, 'k.endUser', filterLink('end_user', c.end_user));
    if (c.session) kv(list, 'k.session', filterLink('session', c.session), 'mono');
    if (c.tags && c.tags.length) kv(list, 'k.tags', c.tags.map(function (tag) { return filterLink('tag', tag, 'badge badge-tag'); }));
    kv(list, 'k.client', c.client_addr);
  }

  function headers(table, list) {
    U.clear(table);
    if (!list || !list.length) {
      table.appendChild(el('tr', null, el('td', { class: 'dim' }, t('detail.noHeaders'))));
      return;
    }
    list.forEach(function (h) {
      table.appendChild(el('tr', null, el('th', null, String(h[0])), el('td', null, String(h[1]))));
    });
  }

  function headerText(list) {
    return (list || []).map(function (h) { return h[0] + ': ' + h[1]; }).join('\n');
  }

  /* The body shown as code, plus the text a copy button copies. */
  function body(box, meta, part, id) {
    U.clear(box);
    U.clear(meta);
    var sizeText = U.bytes(part.size) + (part.content_type ? ' · ' + part.content_type : '');
    meta.appendChild(document.createTextNode(sizeText));
    if (part.truncated) meta.appendChild(el('span', { class: 'badge badge-warn' }, t('detail.truncated', { stored: U.bytes(part.stored_size), size: U.bytes(part.size) })));
    if (part.download_url) meta.appendChild(el('a', { class: 'download', href: part.download_url, download: '' }, t('detail.download')));
    var pre = el('pre', { class: 'code' });
    var text = '';
    if (part.format === 'json') {
      text = H.pretty(part.body);
      H.json(pre, text);
    } else if (part.format === 'text' || part.format === 'sse') {
      text = part.body;
      pre.appendChild(document.createTextNode(text));
    } else if (part.format === 'binary') {
      box.appendChild(el('p', { class: 'dim' }, t('detail.binary', { size: U.bytes(part.stored_size), type: part.content_type || 'application/octet-stream' }), ' ',
        el('a', { href: part.download_url, download: '' }, t('detail.download'))));
      return '';
    } else {
      box.appendChild(el('p', { class: 'dim' }, t(part.format === 'omitted' ? 'detail.omitted' : 'detail.emptyBody')));
      return '';
    }
    box.appendChild(pre);
    return text;
  }

  function events(list) {
    var box = $('events');
    U.clear(box);
    list.forEach(function (ev, i) {
      var data = el('pre', { class: 'code code-small' });
      var parsed = null;
      try { parsed = JSON.parse(ev.data); } catch (e) { parsed = null; }
      if (parsed !== null && typeof parsed === 'object') H.json(data, JSON.stringify(parsed));
      else data.appendChild(document.createTextNode(ev.data));
      box.appendChild(el('li', null,
        el('div', { class: 'event-head' }, el('span', { class: 'event-n' }, '#' + (i + 1)), el('span', { class: 'event-name' }, ev.event || 'message')),
        data));
    });
    $('events-meta').textContent = t('detail.eventsCount', { n: list.length });
    return list.map(function (ev) { return (ev.event ? 'event: ' + ev.event + '\n' : '') + 'data: ' + ev.data; }).join('\n\n');
  }

  /* --- curl --- */

  function shellQuote(s) {
    return "'" + String(s).replace(/'/g, "'\\''") + "'";
  }

  var SKIP = /^(host|content-length|connection|accept-encoding|transfer-encoding|user-agent|keep-alive|x-stainless-.*|x-forwarded-.*|expect|te|upgrade|proxy-.*)$/i;
  var KEY_HEADERS = /^(authorization|api-key|x-api-key)$/i;

  function curl(c) {
    var lines = ['curl ' + shellQuote(info.proxy_url.replace(/\/$/, '') + url(c))];
    if (c.method !== 'GET' || c.request.format !== 'empty') lines.push('-X ' + c.method);
    (c.request.headers || []).forEach(function (h) {
      var name = String(h[0]);
      if (SKIP.test(name)) return;
      if (KEY_HEADERS.test(name)) {
        var bearer = /^bearer\s/i.test(String(h[1]));
        lines.push('-H "' + name + ': ' + (bearer ? 'Bearer ' : '') + '$OPENAI_API_KEY"');
        return;
      }
      lines.push('-H ' + shellQuote(name + ': ' + h[1]));
    });
    if (c.request.format === 'json') lines.push('--data-raw ' + shellQuote(JSON.stringify(c.request.body)));
    else if (c.request.format === 'text') lines.push('--data-raw ' + shellQuote(c.request.body));
    else if (c.request.format === 'binary') lines.push('--data-binary @request.bin   # ' + location.origin + c.request.download_url);
    return lines.join(' \\\n  ');
  }

  /* --- page --- */

  function render(c) {
    capture = c;
    document.title = c.method + ' ' + c.path + ' – ' + t('app.title');
    $('d-method').textContent = c.method;
    $('d-method').className = 'method method-' + String(c.method).toLowerCase();
    $('d-url').textContent = url(c);
    $('d-status').textContent = c.status == null ? c.outcome : String(c.status);
    $('d-status').className = 'status ' + U.statusClass(c.status) + (c.outcome !== 'completed' ? ' st-failed' : '');
    summary(c);
    headers($('req-headers'), c.request.headers);
    headers($('resp-headers'), c.response.headers);
    copies.reqHeaders = headerText(c.request.headers);
    copies.respHeaders = headerText(c.response.headers);
    copies.reqBody = body($('req-body'), $('req-meta'), c.request, c.id);
    copies.respBody = body($('resp-body'), $('resp-meta'), c.response, c.id);
    var streamed = c.response.format === 'sse';
    $('reply-panel').hidden = !(c.reply_text && (streamed || c.reply_text.length));
    $('reply').textContent = c.reply_text || '';
    copies.reply = c.reply_text || '';
    $('events-panel').hidden = !streamed;
    copies.events = streamed ? events(c.response.events || []) : '';
    $('detail').hidden = false;
  }

  function showError(err) {
    var box = $('detail-error');
    box.textContent = err.status === 404 ? t('detail.notFound') : t('detail.error', { m: err.message });
    box.hidden = false;
    $('detail').hidden = true;
  }

  function copy(text) {
    U.copyText(text).then(function (ok) { U.toast(t(ok ? 'copied' : 'copyFailed')); });
  }

  function bind() {
    document.addEventListener('click', function (ev) {
      var btn = ev.target.closest('[data-copy]');
      if (btn) copy(copies[btn.getAttribute('data-copy')] || '');
    });
    $('copy-curl').addEventListener('click', function () { if (capture) copy(curl(capture)); });
    $('copy-json').addEventListener('click', function () { if (capture) copy(JSON.stringify(capture, null, 2)); });
    $('back').addEventListener('click', function (ev) {
      if (document.referrer === '' && history.length > 1) { ev.preventDefault(); history.back(); }
    });
    document.addEventListener('langchange', function () { if (capture) render(capture); });
  }

  function init() {
    U.setupLanguage();
    bind();
    var id = captureId();
    if (!id) { showError({ status: 404 }); return; }
    U.getJSON('/api/info').then(function (i) { info = i; }, function () { /* keep the default */ });
    U.getJSON('/api/request/' + encodeURIComponent(id)).then(render, showError);
  }

  document.addEventListener('DOMContentLoaded', init);
  window.Detail = { curl: function () { return capture ? curl(capture) : ''; } };
})();
