/* main.js - the main page: statistics, charts, the breakdown, filters, the request list,
 * paging, downloads, auto-refresh. */
'use strict';

(function () {
  var U = window.U, t = window.I18N.t, el = U.el;
  var FILTERS = ['search', 'range', 'model', 'status', 'method', 'streamed', 'path', 'key',
    'instance', 'user', 'end_user', 'session', 'tag'];
  /* filters whose inputs suggest the values seen, from /api/stats?group_by= */
  var SUGGEST = ['user', 'end_user', 'session', 'tag'];
  var GROUP_DEFAULT = 'model';
  var RANGES = { '15m': 9e5, '1h': 36e5, '24h': 864e5, '7d': 6048e5, '30d': 2592e6 };
  var REFRESH_KEY = 'capture.refresh';

  var state = {
    filters: {},
    groupBy: GROUP_DEFAULT,
    instances: {},     /* instance names seen: a second one brings the instance into the rows */
    suggested: {},     /* filter name -> {at, params} of its last suggestion fetch */
    listData: null,    /* the list's last answer, to draw again when a second instance appears */
    countText: '',     /* "12 requests", for the download menu */
    groupSignature: '',
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

  /* Sets a filter's input, adding the value to a select that lacks it. */
  function setInput(name, value) {
    var input = $('f-' + name);
    if (!input) return;
    if (input.tagName === 'SELECT' && value && !Array.prototype.some.call(input.options, function (o) { return o.value === value; })) {
      input.appendChild(el('option', { value: value }, value));
    }
    input.value = value;
    markSet(input);
  }

  /* A filter in use is outlined, so a narrowed list is never a surprise. */
  function markSet(input) {
    input.classList.toggle('is-set', !!input.value);
  }

  function readURL() {
    var q = new URLSearchParams(location.search);
    FILTERS.forEach(function (name) { state.filters[name] = q.get(name) || ''; });
    state.cursor = q.get('cursor') || '';
    state.page = Math.max(1, parseInt(q.get('page') || '1', 10) || 1);
    var by = (q.get('by') || '').replace(/[^a-z_]/g, '');
    state.groupBy = by && $('group-by').querySelector('option[value="' + by + '"]') ? by : GROUP_DEFAULT;
    $('group-by').value = state.groupBy;
    FILTERS.forEach(function (name) { setInput(name, state.filters[name]); });
  }

  /* Writes the filters, page and breakdown into the address. A new set of
   * filters is a new history entry (Back undoes it); paging replaces it. */
  function writeURL(push) {
    var q = new URLSearchParams();
    FILTERS.forEach(function (name) { if (state.filters[name]) q.set(name, state.filters[name]); });
    if (state.groupBy !== GROUP_DEFAULT) q.set('by', state.groupBy);
    if (state.cursor) { q.set('cursor', state.cursor); q.set('page', String(state.page)); }
    var s = q.toString();
    var target = s ? '?' + s : location.pathname;
    if (push && target !== (location.search || location.pathname)) history.pushState(null, '', target);
    else history.replaceState(null, '', target);
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
    renderCost(s);
    fillModels(s.models);
    drawCharts();
    renderGroups(s);
  }

  /* Total cost; "N calls unpriced" counts calls with usage whose model has
   * no price (the API leaves them out of cost_usd). */
  function renderCost(s) {
    var value = $('stat-cost'), sub = $('stat-cost-sub');
    var unpriced = s.unpriced_requests || 0;
    value.textContent = U.usd(s.cost_usd);
    value.title = s.cost_usd == null ? t('stats.noCost') : U.usdExact(s.cost_usd);
    U.clear(sub);
    sub.removeAttribute('title');
    if (unpriced > 0) {
      sub.appendChild(el('span', { class: 'warn-text' }, t(unpriced === 1 ? 'stats.unpricedOne' : 'stats.unpriced', { n: U.num(unpriced) })));
      sub.title = t('stats.unpricedTip');
    } else if (s.cost_usd != null && s.total_requests > 0) {
      sub.textContent = t('stats.costAvg', { v: U.usd(s.cost_usd / s.total_requests) });
    }
  }

  function renderGroups(s) {
    if (s.group_by && s.group_by !== state.groupBy) return;   /* an answer for the previous choice */
    var signature = JSON.stringify([s.groups, s.total_requests, state.groupBy, window.I18N.current()]);
    if (signature === state.groupSignature) return;
    state.groupSignature = signature;
    window.Breakdown.render({ body: $('group-rows'), head: $('group-key-head'), empty: $('group-empty'), meta: $('group-meta') }, s, state.groupBy);
    if (state.groupBy === 'instance') noteInstances(s.groups);
  }

  /* Remembers instance names and offers them in the instance filter; the
   * list is drawn again when a second instance appears (unless quiet). */
  function noteInstances(groups, quiet) {
    var before = Object.keys(state.instances).length;
    (groups || []).forEach(function (g) {
      var name = g.key;
      if (name == null || name === '') return;
      state.instances[name] = true;
      var select = $('f-instance');
      if (!select.querySelector('option[value="' + CSS.escape(name) + '"]')) select.appendChild(el('option', { value: name }, name));
    });
    if (!quiet && before < 2 && multiInstance() && state.listData) {
      state.signature = '';
      renderList(state.listData);
    }
  }

  function multiInstance() {
    return Object.keys(state.instances).length > 1;
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
    var q = apiParams();
    q.set('group_by', state.groupBy);
    return U.getJSON('/api/stats?' + q.toString()).then(function (s) {
      state.lastStatsMs = Date.now() - started;
      state.lastStatsAt = Date.now();
      renderStats(s);
    }, function (err) {
      /* the list shows its own errors; the cards keep their values */
      $('group-meta').textContent = t('group.error', { m: err.message });
    });
  }

  /* The values seen for a filter (other filters applied), offered by its
   * input's datalist (or select); fetched when the input gets the focus. */
  function suggest(name) {
    var q = apiParams();
    q.delete(name);
    q.set('group_by', name);
    var key = q.toString(), last = state.suggested[name];
    if (last && last.params === key && Date.now() - last.at < 30000) return;
    state.suggested[name] = { params: key, at: Date.now() };
    U.getJSON('/api/stats?' + key).then(function (s) {
      if (name === 'instance') { noteInstances(s.groups); return; }
      var list = $('dl-' + name);
      U.clear(list);
      (s.groups || []).forEach(function (g) {
        if (g.key != null && g.key !== '') list.appendChild(el('option', { value: String(g.key) }));
      });
    }, function () { state.suggested[name] = null; });
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

  /* A value in a row that filters the list by itself when clicked. */
  function pick(name, value, cls, title, text) {
    return el('button', { type: 'button', class: cls, title: title, dataset: { filter: name, value: value } }, text == null ? value : text);
  }

  /* Who made the call: user (X-Capture-User), else the body's end user; the
   * proxy instance underneath once more than one has been seen. */
  function whoCell(r) {
    var cell = el('td', { class: 'who col-who' });
    if (r.user) cell.appendChild(pick('user', r.user, 'pick pick-user', t('list.filterUser', { s: r.user })));
    if (r.end_user && r.end_user !== r.user) cell.appendChild(pick('end_user', r.end_user, 'pick pick-end', t('list.filterEndUser', { s: r.end_user })));
    if (r.instance && multiInstance()) cell.appendChild(pick('instance', r.instance, 'pick pick-instance', t('list.filterInstance', { s: r.instance })));
    if (!cell.firstChild) cell.appendChild(el('span', { class: 'dim' }, '–'));
    return cell;
  }

  function costCell(r) {
    if (r.cost_usd == null) {
      var noUsage = r.prompt_tokens == null && r.completion_tokens == null;
      return el('td', { class: 'num cost cost-none', title: t(noUsage ? 'cost.noUsage' : 'cost.unpriced') }, '—');
    }
    return el('td', { class: 'num cost', title: U.usdExact(r.cost_usd) }, U.usd(r.cost_usd));
  }

  function row(r, words, isNew) {
    var href = '/request/' + encodeURIComponent(r.id);
    var pathCell = el('td', { class: 'path' },
      el('a', { href: href, class: 'path-link' }, markedText(r.path + (r.query ? '?' + r.query : ''), words)),
      r.streamed ? el('span', { class: 'badge badge-stream' }, t('list.stream')) : null,
      r.key_hint ? pick('key', r.key_fingerprint || '', 'badge badge-key', t('list.key'), r.key_hint) : null,
      r.session ? pick('session', r.session, 'badge badge-session', t('list.filterSession', { s: r.session })) : null,
      (r.tags || []).map(function (tag) { return pick('tag', tag, 'badge badge-tag', t('list.filterTag', { s: tag })); }));
    if (r.snippet && r.snippet.length) pathCell.appendChild(snippetNode(r.snippet));
    else if (r.preview) pathCell.appendChild(el('div', { class: 'preview' }, r.preview));
    else if (r.error) pathCell.appendChild(el('div', { class: 'preview preview-error' }, r.error));
    var status = r.status == null ? r.outcome : String(r.status);
    var tr = el('tr', { class: 'row' + (isNew ? ' row-new' : ''), dataset: { id: r.id, href: href } },
      el('td', { class: 'time', title: U.dateTime(r.timestamp) }, U.isToday(r.timestamp) ? U.dateTime(r.timestamp, false) : U.dateTime(r.timestamp)),
      el('td', null, el('span', { class: 'method method-' + String(r.method).toLowerCase() }, r.method)),
      pathCell,
      whoCell(r),
      el('td', null, el('span', { class: 'status ' + U.statusClass(r.status) + (r.outcome !== 'completed' ? ' st-failed' : ''), title: r.outcome }, status)),
      el('td', { class: 'model' }, r.model || '–'),
      el('td', { class: 'num' }, U.ms(r.duration_ms)),
      el('td', { class: 'num' }, tokensCell(r)),
      costCell(r));
    return tr;
  }

  function renderList(data) {
    /* an auto-refresh that changed nothing leaves the rows (and any text
     * the user is selecting in them) alone */
    state.listData = data;
    noteInstances(data.requests.map(function (r) { return { key: r.instance }; }), true);
    var signature = JSON.stringify([data, state.filters.search, window.I18N.current(), multiInstance()]);
    if (signature === state.signature) return;
    state.signature = signature;
    showWho(data.requests);
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
    state.countText = count;
    updateExport();
  }

  /* The user column appears once a call with a user or end user is listed
   * (or a user filter is set, or there are several instances) and then stays. */
  function showWho(requests) {
    var table = $('requests');
    var want = !table.classList.contains('no-who') || multiInstance() ||
      ['user', 'end_user', 'instance'].some(function (n) { return !!state.filters[n]; }) ||
      requests.some(function (r) { return r.user || r.end_user; });
    table.classList.toggle('no-who', !want);
    var head = $('col-who');
    head.setAttribute('data-i18n', multiInstance() ? 'col.userInstance' : 'col.user');
    head.textContent = t(head.getAttribute('data-i18n'));
  }

  /* --- downloads: /api/export with the list's filters --- */

  function exportHref(format) {
    var q = apiParams();
    if (format === 'messages') { q.set('format', 'jsonl'); q.set('shape', 'messages'); }
    else q.set('format', format);
    return '/api/export?' + q.toString();
  }

  function updateExport() {
    Array.prototype.forEach.call($('export').querySelectorAll('a[data-format]'), function (a) {
      a.href = exportHref(a.dataset.format);
    });
    $('export-scope').textContent = hasFilters() ? t('export.scope', { n: state.countText || '' }) : t('export.scopeAll');
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
      if (input) markSet(input);
    });
    resetPaging();
    state.seen = {};
    writeURL(true);
    updateExport();
    refresh(true);
  }

  /* Back and Forward between filter sets. */
  function onPopState() {
    readURL();
    state.cursors = state.cursor ? [''] : [];
    state.seen = {};
    updateExport();
    refresh(true);
  }

  function bind() {
    $('filters').addEventListener('submit', function (ev) { ev.preventDefault(); applyFilters(); });
    ['range', 'model', 'status', 'method', 'streamed'].forEach(function (name) {
      $('f-' + name).addEventListener('change', applyFilters);
    });
    ['path', 'key', 'instance', 'user', 'end_user', 'session', 'tag'].forEach(function (name) {
      $('f-' + name).addEventListener('change', applyFilters);
    });
    SUGGEST.concat(['instance']).forEach(function (name) {
      $('f-' + name).addEventListener('focus', function () { suggest(name); });
    });
    $('f-clear').addEventListener('click', function () {
      FILTERS.forEach(function (name) { var i = $('f-' + name); if (i) i.value = ''; });
      applyFilters();
    });
    $('group-by').addEventListener('change', function () {
      state.groupBy = $('group-by').value;
      writeURL(false);
      U.clear($('group-rows'));
      state.groupSignature = '';
      $('group-meta').textContent = t('list.loading');
      loadStats();
    });
    /* a value in the list or the breakdown filters by itself */
    document.querySelector('main').addEventListener('click', function (ev) {
      var target = ev.target.closest('[data-filter]');
      if (!target || !target.dataset.value) return;
      ev.preventDefault();
      ev.stopPropagation();
      setInput(target.dataset.filter, target.dataset.value);
      applyFilters();
    });
    $('export').addEventListener('click', function (ev) {
      var a = ev.target.closest('a[data-format]');
      if (!a) return;
      a.href = exportHref(a.dataset.format);   /* a time range ends now, not at the last render */
      setTimeout(function () { $('export').open = false; }, 0);
    });
    document.addEventListener('click', function (ev) {
      if ($('export').open && !ev.target.closest('#export')) $('export').open = false;
    });
    window.addEventListener('popstate', onPopState);
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
      if (ev.target.closest('a, button')) return;
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
      if (ev.key === 'Escape' && $('export').open) $('export').open = false;
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
    updateExport();
    $('list-status').textContent = t('list.loading');
    refresh(true).then(function () {
      schedule();
      /* the instances, for the instance filter and to know whether rows should name them */
      if (state.groupBy !== 'instance') suggest('instance');
    });
  }

  document.addEventListener('DOMContentLoaded', init);
  window.Dashboard = { refresh: refresh, state: state };
})();
