/* breakdown.js - the "Break down by" table of the main page: requests, failures,
 * tokens, cost and latency per model, instance, user, session, tag, key, status
 * or path, from /api/stats?group_by=…. Group keys are captured strings: they
 * become text nodes and data-* values, never HTML. */
'use strict';

(function () {
  var U = window.U, t = window.I18N.t, el = U.el;

  /* group_by value -> the list filter that selects one group */
  var FILTER_OF = {
    model: 'model', instance: 'instance', user: 'user', end_user: 'end_user', session: 'session',
    tag: 'tag', key: 'key', status: 'status', path: 'path'
  };
  var MONO = { key: true, path: true, session: true, status: true };

  function filterOf(by) { return FILTER_OF[by] || null; }

  function keyCell(g, by, share) {
    var cell = el('td', { class: 'group-key' });
    if (g.key == null || g.key === '') {
      cell.appendChild(el('span', { class: 'dim', title: t('group.noneTip') }, t('group.none')));
    } else {
      cell.appendChild(el('button', {
        type: 'button', class: 'pick' + (MONO[by] ? ' mono' : ''), title: String(g.key) + ' — ' + t('group.pick'),
        dataset: { filter: FILTER_OF[by], value: String(g.key) }
      }, String(g.key)));
    }
    var bar = el('span');
    bar.style.width = Math.max(0, Math.min(100, share * 100)).toFixed(1) + '%';
    cell.appendChild(el('div', { class: 'share', 'aria-hidden': 'true' }, bar));
    return cell;
  }

  /* The group's cost; the tooltip says when calls without a price were left out. */
  function costCell(g) {
    var unpriced = g.unpriced_requests || 0;
    if (g.cost_usd == null) return el('td', { class: 'num cost-none', title: t(unpriced ? 'cost.unpriced' : 'cost.noUsage') }, '—');
    var title = U.usdExact(g.cost_usd) + (unpriced ? ' · ' + t('group.unpriced', { n: U.num(unpriced) }) : '');
    return el('td', { class: 'num' + (unpriced ? ' cost-partial' : ''), title: title }, U.usd(g.cost_usd), unpriced ? el('span', { class: 'warn-text' }, ' *') : null);
  }

  function tokens(g) {
    if (g.prompt_tokens == null && g.completion_tokens == null) return '–';
    return [U.compact(g.prompt_tokens || 0), el('span', { class: 'dim' }, ' / '), U.compact(g.completion_tokens || 0)];
  }

  function row(g, by, total) {
    return el('tr', { class: 'group-row', dataset: { key: g.key == null ? '' : String(g.key) } },
      keyCell(g, by, total ? g.requests / total : 0),
      el('td', { class: 'num' }, U.num(g.requests)),
      el('td', { class: 'num' + (g.failed ? ' error-text' : '') }, U.num(g.failed)),
      el('td', { class: 'num', title: U.num(g.prompt_tokens) + ' / ' + U.num(g.completion_tokens) }, tokens(g)),
      costCell(g),
      el('td', { class: 'num' }, U.ms(g.avg_response_time_ms)));
  }

  /* Fills the table for stats s grouped by `by`; parts: {body, head, empty, meta}. */
  function render(parts, s, by) {
    var groups = (s && s.groups) || [];
    U.clear(parts.body);
    parts.head.setAttribute('data-i18n', 'group.' + by);
    parts.head.textContent = t('group.' + by);
    groups.forEach(function (g) { parts.body.appendChild(row(g, by, s.total_requests)); });
    parts.empty.hidden = groups.length > 0;
    var meta = groups.length === 1 ? t('group.countOne') : t('group.count', { n: U.num(groups.length) });
    if (groups.length >= 50) meta = t('group.top', { n: groups.length });
    parts.meta.textContent = groups.length ? meta : '';
  }

  window.Breakdown = { render: render, filterOf: filterOf };
})();
