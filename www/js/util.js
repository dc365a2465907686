/* util.js - small helpers shared by the pages: DOM building, fetching, formatting, copying.
 *
 * Captured strings only ever reach the page as text nodes (el() children,
 * textContent): nothing here parses data as HTML. */
'use strict';

(function () {
  /* el('a', {href: x, class: 'y'}, 'text', otherNode): an element whose
   * string children become text nodes. Properties starting with "on" are
   * rejected to keep handlers in code. */
  function el(tag, props) {
    var node = document.createElement(tag);
    var key;
    if (props) {
      for (key in props) {
        if (!Object.prototype.hasOwnProperty.call(props, key) || props[key] == null) continue;
        if (/^on/i.test(key)) throw new Error('el(): no inline handlers');
        if (key === 'class') node.className = props[key];
        else if (key === 'text') node.textContent = props[key];
        else if (key === 'dataset') Object.assign(node.dataset, props[key]);
        else node.setAttribute(key, props[key]);
      }
    }
    for (var i = 2; i < arguments.length; i++) append(node, arguments[i]);
    return node;
  }

  function append(node, child) {
    if (child == null || child === false) return;
    if (Array.isArray(child)) { child.forEach(function (c) { append(node, c); }); return; }
    node.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  /* GET url as JSON; rejects with an Error carrying .status and the API's message. */
  function getJSON(url, signal) {
    return fetch(url, { headers: { Accept: 'application/json' }, signal: signal, cache: 'no-store' })
      .then(function (res) {
        return res.text().then(function (body) {
          var data = null;
          try { data = JSON.parse(body); } catch (e) { data = null; }
          if (!res.ok) {
            var msg = data && data.error && data.error.message ? data.error.message : 'HTTP ' + res.status;
            var err = new Error(msg);
            err.status = res.status;
            throw err;
          }
          if (data === null) throw new Error('not JSON');
          return data;
        });
      });
  }

  function num(n) {
    if (n == null || isNaN(n)) return '–';
    return Number(n).toLocaleString(window.I18N.current() === 'zh' ? 'zh-CN' : 'en-US');
  }

  /* 1234567 -> "1.2M": for figures that must fit a card. */
  function compact(n) {
    if (n == null || isNaN(n)) return '–';
    if (Math.abs(n) < 1e6) return num(n);
    if (Math.abs(n) < 1e9) return (n / 1e6).toFixed(1) + 'M';
    return (n / 1e9).toFixed(2) + 'G';
  }

  function ms(v) {
    if (v == null || isNaN(v)) return '–';
    if (v >= 60000) return (v / 60000).toFixed(1) + ' min';
    if (v >= 10000) return (v / 1000).toFixed(1) + ' s';
    if (v >= 1000) return (v / 1000).toFixed(2) + ' s';
    return Math.round(v) + ' ms';
  }

  /* US dollars for a cost: "$12.34", "$0.0123", "$0.00000578" (three
   * significant digits below a dollar, since one call costs fractions of a
   * cent); "—" when there is no cost (an unpriced model). */
  function usd(v) {
    if (v == null || v === '' || isNaN(v)) return '—';
    var n = Number(v), a = Math.abs(n);
    if (a === 0) return '$0';
    if (a >= 1) {
      var locale = window.I18N.current() === 'zh' ? 'zh-CN' : 'en-US';
      return '$' + n.toLocaleString(locale, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    }
    var digits = Math.min(10, Math.max(2, 2 - Math.floor(Math.log10(a))));
    return '$' + n.toFixed(digits).replace(/(\.\d\d\d*?)0+$/, '$1');
  }

  /* The cost as stored (8 decimals), for tooltips. */
  function usdExact(v) {
    if (v == null || v === '' || isNaN(v)) return '';
    return '$' + Number(v).toFixed(8).replace(/0+$/, '').replace(/\.$/, '');
  }

  function bytes(n) {
    if (n == null) return '–';
    if (n < 1024) return n + ' B';
    if (n < 1048576) return (n / 1024).toFixed(1) + ' KB';
    return (n / 1048576).toFixed(1) + ' MB';
  }

  function pad(n) { return n < 10 ? '0' + n : String(n); }

  /* Local date and time "2025-01-31 14:05:09". */
  function dateTime(iso, withDate) {
    var d = new Date(iso);
    if (isNaN(d)) return String(iso);
    var time = pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
    if (withDate === false) return time;
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' + time;
  }

  /* "just now", "5 min ago" style age of a timestamp, for tooltips. */
  function isToday(iso) {
    var d = new Date(iso), now = new Date();
    return d.toDateString() === now.toDateString();
  }

  function statusClass(status) {
    if (!status) return 'st-none';
    if (status >= 500) return 'st-5xx';
    if (status >= 400) return 'st-4xx';
    if (status >= 300) return 'st-3xx';
    return 'st-2xx';
  }

  /* Copies text; resolves true on success. */
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).then(function () { return true; }, function () { return fallbackCopy(text); });
    }
    return Promise.resolve(fallbackCopy(text));
  }

  function fallbackCopy(text) {
    var area = el('textarea', { class: 'offscreen', readonly: 'readonly' });
    area.value = text;
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
    document.body.removeChild(area);
    return ok;
  }

  var toastTimer = null;
  function toast(message) {
    var box = document.getElementById('toast');
    if (!box) {
      box = el('div', { id: 'toast', class: 'toast', role: 'status' });
      document.body.appendChild(box);
    }
    box.textContent = message;
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { box.hidden = true; }, 1800);
  }

  function setupLanguage() {
    var select = document.getElementById('lang');
    window.I18N.apply();
    if (document.body.classList.contains('page-main')) document.title = window.I18N.t('app.title');
    document.addEventListener('langchange', function () {
      if (document.body.classList.contains('page-main')) document.title = window.I18N.t('app.title');
    });
    if (!select) return;
    select.value = window.I18N.current();
    select.addEventListener('change', function () { window.I18N.set(select.value); });
  }

  window.U = {
    el: el, clear: clear, getJSON: getJSON, num: num, compact: compact, ms: ms, bytes: bytes, usd: usd, usdExact: usdExact,
    dateTime: dateTime, isToday: isToday, statusClass: statusClass,
    copyText: copyText, toast: toast, setupLanguage: setupLanguage
  };
})();
