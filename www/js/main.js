/* main.js - the main page: statistics, charts, filters, the request list, paging, auto-refresh. */
'use strict';

(function () {
  var U = window.U, t = window.I18N.t, el = U.el;
  var FILTERS = ['search', 'range', 'model', 'status', 'method', 'streamed', 'path', 'key'];
  var RANGES = { '15m': 9e5, '1h': 36e5, '24h': 864e5, '7d': 6048e5, '30d': 2592e6 };
  var REFRESH_KEY = 'capture.refresh';

  var state = {
    filters: {},
    cursors: [],       /* cursors of the pages before the current one ('' = first) */
    cursor: '',        /* the current page's cursor, '' for the newest page */
    page: 1,
    next: null,
    interval: 5000,
    paused: false,
    timer: null,
    busy: null,
    again: null,
    lastStatsMs: 0,
    lastStatsAt: 0,
    stats: null,
    seen: {},
    signature: ''
  };

  function $(id) { return document.getElementById(id); }

  /* --- URL state: filters and page live in the query string --- */

  function readURL() {
    var q = new URLSearchParams(location.search);
    FILTERS.forEach(function (name) { state.filters[name] = q.get(name) || ''; });
    state.cursor = q.get('cursor') || '';
    state.page = Math.max(1, parseInt(q.get('page') || '1', 10) || 1);
    FILTERS.forEach(function (name) {
      var input = $('f-' + name);
      if (!input) return;
      if (input.tagName === 'SELECT' && state.filters[name] && !Array.prototype.some.call(input.options, function (o) { return o.value === state.filters[name]; })) {
        input.appendChild(el('option', { value: state.filters[name] }, state.filters[name]));
      }
      input.value = state.filters[name];
    });
  }

  function writeURL() {
    var q = new URLSearchParams();
    FILTERS.forEach(function (name) { if (state.filters[name]) q.set(name, state.filters[name]); });
    if (state.cursor) { q.set('cursor', state.cursor); q.set('page', String(state.page)); }
    var s = q.toString();
    history.replaceState(null, '', s ? '?' + s : location.pathname);
  }

  /* The API's filter parameters (the time range becomes from=). */
  function apiParams() {
    var q = new URLSearchParams();
    FILTERS.forEach(function (name) {
      var v = state.filters[name];
      if (!v) return;
      if (name === 'range') {
        if (RANGES[v]) q.set('from', new Date(Date.now() - RANGES[v]).toISOString());
      } else {
        q.set(name, v);
      }
    });
    return q;
  }

  /* --- statistics and charts --- */

  function renderStats(s) {
    state.stats = s;
    $('stat-total').textContent = U.num(s.total_requests);
    $('stat-success').textContent = s.total_requests ? s.success_rate.toFixed(1) + '%' : '–';
    $('stat-avg').textContent = U.ms(s.avg_response_time_ms);
    $('stat-tokens').textContent = U.compact(s.tokens.prompt) + ' / ' + U.compact(s.tokens.completion);
    $('stat-tokens').title = U.num(s.tokens.prompt) + ' / ' + U.num(s.tokens.completion);
    $('stat-errors').textContent = t('stats.errors', { n: U.num(s.errors.failed), c: U.num(s.errors.client_4xx), s: U.num(s.errors.server_5xx) });
    $('stat-pct').textContent = t('stats.pct', { p50: U.ms(s.p50_response_time_ms), p95: U.ms(s.p95_response_time_ms) });
    $('stat-ttfb').textContent = t('stats.ttfb', { v: U.ms(s.avg_ttfb_ms) });
    $('stat-range').textContent = s.first_ms ? t('stats.since', { t: U.dateTime(s.first_ms) }) : '';
    fillModels(s.models);
    drawCharts();
  }

  function drawCharts() {
    if (!state.stats) return;
    window.Charts.timeline($('chart-timeline'), $('tip-timeline'), state.stats.timeline);
    window.Charts.models($('chart-models'), $('tip-models'), state.stats.models);
  }

  /* Keeps the model filter's choices in step with the models seen. */
  function fillModels(models) {
    var select = $('f-model');
    var have = {};
    Array.prototype.forEach.call(select.options, function (o) { have[o.value] = true; });
    (models || []).forEach(function (m) {
      if (m.model != null && m.model !== '' && !have[m.model]) {
        select.appendChild(el('option', { value: m.model }, m.model));
        have[m.model] = true;
      }
    });
  }

  function loadStats() {
    var started = Date.now();
    return U.getJSON('/api/stats?' + apiParams().toString()).then(function (s) {
      state.lastStatsMs = Date.now() - started;
      state.lastStatsAt = Date.now();
      renderStats(s);
    }, function () { /* the list shows errors; the cards keep their values */ });
  }

  /* --- the list --- */

  /* Text with the search words marked: <mark> elements around matches, all text nodes. */
  function markedText(text, words) {
    if (!words.length || !text) return [text];
    var lower = text.toLowerCase(), out = [], i = 0;
    while (i < text.length) {
      var best = -1, len = 0;
      words.forEach(function (w) {
        var at = lower.indexOf(w, i);
        if (at >= 0 && (best < 0 || at < best)) { best = at; len = w.length; }
      });
      if (best < 0) { out.push(text.slice(i)); break; }
      if (best > i) out.push(text.slice(i, best));
      out.push(el('mark', null, text.slice(best, best + len)));
      i = best + len;
    }
    return out;
  }

  function searchWords() {
    var s = (state.filters.search || '').toLowerCase().replace(/"/g, ' ');
    return s.split(/\s+/).filter(function (w) { return w.length >= 2 && w[0] !== '-' && w !== 'or'; });
  }

  function snippetNode(snippet) {
    var node = el('div', { class: 'snippet' });
    snippet.forEach(function (part) { node.appendChild(part.match ? el('mark', null, part.text) : document.createTextNode(part.text)); });
    return node;
  }

  function tokensCell(r) {
    if (r.prompt_tokens == null && r.completion_tokens == null) return '–';
    return [U.num(r.prompt_tokens), el('span', { class: 'dim' }, ' / '), U.num(r.completion_tokens)];
  }

  function row(r, words, isNew) {
    var href = '/request/' + encodeURIComponent(r.id);
    var pathCell = el('td', { class: 'path' },
      el('a', { href: href, class: 'path-link' }, markedText(r.path + (r.query ? '?' + r.query : ''), words)),
      r.streamed ? el('span', { class: 'badge badge-stream' }, t('list.stream')) : null,
      r.key_hint ? el('button', { type: 'button', class: 'badge badge-key', title: t('list.key'), dataset: { key: r.key_fingerprint || '' } }, r.key_hint) : null);
    if (r.snippet && r.snippet.length) pathCell.appendChild(snippetNode(r.snippet));
    else if (r.preview) pathCell.appendChild(el('div', { class: 'preview' }, r.preview));
    else if (r.error) pathCell.appendChild(el('div', { class: 'preview preview-error' }, r.error));
    var status = r.status == null ? r.outcome : String(r.status);
    var tr = el('tr', { class: 'row' + (isNew ? ' row-new' : ''), dataset: { id: r.id, href: href } },
      el('td', { class: 'time', title: U.dateTime(r.timestamp) }, U.isToday(r.timestamp) ? U.dateTime(r.timestamp, false) : U.dateTime(r.timestamp)),
      el('td', null, el('span', { class: 'method method-' + String(r.method).toLowerCase() }, r.method)),
      pathCell,
      el('td', null, el('span', { class: 'status ' + U.statusClass(r.status) + (r.outcome !== 'completed' ? ' st-failed' : ''), title: r.outcome }, status)),
      el('td', { class: 'model' }, r.model || '–'),
      el('td', { class: 'num' }, U.ms(r.duration_ms)),
      el('td', { class: 'num' }, tokensCell(r)));
    return tr;
  }

  function renderList(data) {
    /* an auto-refresh that changed nothing leaves the rows (and any text
     * the user is selecting in them) alone */
    var signature = JSON.stringify([data, state.filters.search, window.I18N.current()]);
    if (signature === state.signature) return;
    state.signature = signature;
    var body = $('rows');
    var words = searchWords();
    var firstLoad = !Object.keys(state.seen).length;
    var fresh = 0;
    U.clear(body);
    data.requests.forEach(function (r) {
      var isNew = !firstLoad && !state.seen[r.id];
      if (isNew) fresh++;
      state.seen[r.id] = true;
      body.appendChild(row(r, words, isNew));
    });
    $('empty').hidden = data.requests.length > 0;
    state.next = data.next_cursor;
    var count = data.total_exact ? t(data.total === 1 ? 'list.countOne' : 'list.count', { n: U.num(data.total) })
      : hasFilters() ? t('list.countMore', { n: U.num(data.total) })
      : t('list.countAbout', { n: U.num(data.total) });
    var status = $('list-status');
    U.clear(status);
    status.appendChild(document.createTextNode(count));
    if (fresh && state.page === 1) status.appendChild(el('span', { class: 'badge badge-new' }, t('list.new', { n: fresh })));
    $('pg-info').textContent = t(data.total_exact ? 'pager.info' : 'pager.infoMore', { p: U.num(state.page), n: U.num(Math.max(1, data.pages)) });
    $('pg-first').disabled = state.page <= 1;
    $('pg-prev').disabled = state.page <= 1;
    $('pg-next').disabled = !data.next_cursor;
  }

  function hasFilters() {
    return FILTERS.some(function (name) { return !!state.filters[name]; });
  }

  function loadList() {
    var q = apiParams();
    if (state.cursor) { q.set('cursor', state.cursor); q.set('page', String(state.page)); }
    return U.getJSON('/api/requests?' + q.toString()).then(renderList, function (err) {
      var status = $('list-status');
      U.clear(status);
      status.appendChild(el('span', { class: 'error-text' }, t('list.error', { m: err.message })));
    });
  }

  /* --- refresh --- */

  /* Loads the list (and the statistics); a call while one is under way runs
   * again once it ends, so a filter change is never lost. */
  function refresh(withStats) {
    if (state.busy) {
      state.again = state.again || { stats: false };
      state.again.stats = state.again.stats || !!withStats;
      return state.busy;
    }
    var jobs = [loadList()];
    if (withStats) jobs.push(loadStats());
    state.busy = Promise.all(jobs).then(function () { return null; }, function () { return null; }).then(function () {
      state.busy = null;
      var again = state.again;
      state.again = null;
      return again ? refresh(again.stats) : null;
    });
    return state.busy;
  }

  function schedule() {
    clearTimeout(state.timer);
    var live = state.interval > 0 && !state.paused;
    document.body.classList.toggle('is-live', live);
    $('refresh-pause').textContent = t(state.paused ? 'refresh.resume' : 'refresh.pause');
    $('refresh-pause').disabled = state.interval === 0;
    if (!live) return;
    state.timer = setTimeout(function tick() {
      if (!document.hidden) {
        /* statistics over millions of rows take a while: refresh them less often then */
        var statsDue = Date.now() - state.lastStatsAt >= Math.max(state.interval, state.lastStatsMs * 5);
        refresh(statsDue).then(schedule);
      } else {
        schedule();
      }
    }, state.interval);
  }

  function resetPaging() {
    state.cursors = [];
    state.cursor = '';
    state.page = 1;
  }

  function applyFilters() {
    FILTERS.forEach(function (name) {
      var input = $('f-' + name);
      state.filters[name] = input ? input.value.trim() : '';
    });
    resetPaging();
    state.seen = {};
    writeURL();
    refresh(true);
  }

  function bind() {
    $('filters').addEventListener('submit', function (ev) { ev.preventDefault(); applyFilters(); });
    ['range', 'model', 'status', 'method', 'streamed'].forEach(function (name) {
      $('f-' + name).addEventListener('change', applyFilters);
    });
    ['path', 'key'].forEach(function (name) {
      $('f-' + name).addEventListener('change', applyFilters);
    });
    $('f-clear').addEventListener('click', function () {
      FILTERS.forEach(function (name) { var i = $('f-' + name); if (i) i.value = ''; });
      applyFilters();
    });
    $('pg-next').addEventListener('click', function () {
      if (!state.next) return;
      state.cursors.push(state.cursor);
      state.cursor = state.next;
      state.page += 1;
      writeURL();
      refresh(false);
      window.scrollTo(0, $('filters').offsetTop);
    });
    $('pg-prev').addEventListener('click', function () {
      if (state.page <= 1) return;
      state.cursor = state.cursors.length ? state.cursors.pop() : '';
      state.page -= 1;
      if (!state.cursor) state.page = 1;
      writeURL();
      refresh(false);
    });
    $('pg-first').addEventListener('click', function () { resetPaging(); writeURL(); refresh(false); });
    $('rows').addEventListener('click', function (ev) {
      var key = ev.target.closest('.badge-key');
      if (key) {
        ev.preventDefault();
        $('f-key').value = key.dataset.key;
        applyFilters();
        return;
      }
      if (ev.target.closest('a')) return;
      var tr = ev.target.closest('tr.row');
      if (tr && !window.getSelection().toString()) location.href = tr.dataset.href;
    });
    $('refresh-interval').addEventListener('change', function () {
      state.interval = Number($('refresh-interval').value);
      state.paused = false;
      try { localStorage.setItem(REFRESH_KEY, String(state.interval)); } catch (e) { /* ignore */ }
      schedule();
    });
    $('refresh-pause').addEventListener('click', function () { state.paused = !state.paused; schedule(); });
    var resizeTimer = null;
    window.addEventListener('resize', function () { clearTimeout(resizeTimer); resizeTimer = setTimeout(drawCharts, 150); });
    document.addEventListener('langchange', function () { refresh(true); schedule(); });
    document.addEventListener('keydown', function (ev) {
      var tag = (ev.target.tagName || '').toLowerCase();
      if (ev.key === '/' && tag !== 'input' && tag !== 'textarea' && tag !== 'select') {
        ev.preventDefault();
        $('f-search').focus();
      }
    });
  }

  function init() {
    U.setupLanguage();
    try {
      var saved = localStorage.getItem(REFRESH_KEY);
      if (saved !== null && $('refresh-interval').querySelector('option[value="' + Number(saved) + '"]')) state.interval = Number(saved);
    } catch (e) { /* ignore */ }
    $('refresh-interval').value = String(state.interval);
    readURL();
    if (state.cursor) state.cursors = [''];   /* a shared deep link: "newer" goes back to the top */
    bind();
    $('list-status').textContent = t('list.loading');
    refresh(true).then(schedule);
  }

  document.addEventListener('DOMContentLoaded', init);
  window.Dashboard = { refresh: refresh, state: state };
})();
