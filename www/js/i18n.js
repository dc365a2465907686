/* i18n.js - the dashboard's words in English and Chinese; the choice is kept in localStorage. */
'use strict';

(function () {
  var STRINGS = {
    en: {
      'app.title': 'OpenAI capture dashboard',
      'refresh.label': 'Auto-refresh',
      'refresh.off': 'Off',
      'refresh.pause': 'Pause',
      'refresh.resume': 'Resume',
      'stats.total': 'Total requests',
      'stats.success': 'Success rate',
      'stats.avg': 'Avg response time',
      'stats.tokens': 'Tokens in / out',
      'stats.errors': '{n} failed · {c} 4xx · {s} 5xx',
      'stats.pct': 'p50 {p50} · p95 {p95}',
      'stats.ttfb': 'avg time to first byte {v}',
      'stats.since': 'since {t}',
      'chart.timeline': 'Requests and latency over time',
      'chart.models': 'Tokens by model',
      'chart.ok': 'Successful',
      'chart.err': 'Failed',
      'chart.latency': 'Avg latency',
      'chart.in': 'Input tokens',
      'chart.out': 'Output tokens',
      'chart.empty': 'No data in this range',
      'chart.tipTime': '{n} requests · {e} failed · avg {ms}',
      'chart.tipModel': '{n} requests · in {i} · out {o}',
      'filter.search': 'Search prompts, replies, paths, ids…  ("exact phrase", -exclude, or)',
      'filter.go': 'Search',
      'filter.clear': 'Clear',
      'filter.range': 'Time',
      'filter.model': 'Model',
      'filter.status': 'Status',
      'filter.method': 'Method',
      'filter.streamed': 'Streamed',
      'filter.path': 'Path',
      'filter.key': 'Key',
      'filter.keyph': 'fingerprint',
      'filter.any': 'Any',
      'filter.failed': 'Failed',
      'filter.yes': 'Yes',
      'filter.no': 'No',
      'range.all': 'All time',
      'range.15m': 'Last 15 minutes',
      'range.1h': 'Last hour',
      'range.24h': 'Last 24 hours',
      'range.7d': 'Last 7 days',
      'range.30d': 'Last 30 days',
      'col.time': 'Time',
      'col.method': 'Method',
      'col.path': 'Path',
      'col.status': 'Status',
      'col.model': 'Model',
      'col.duration': 'Duration',
      'col.tokens': 'Tokens',
      'list.empty': 'No captured requests match.',
      'list.count': '{n} requests',
      'list.countOne': '1 request',
      'list.countMore': 'more than {n} requests',
      'list.countAbout': 'about {n} requests',
      'list.loading': 'Loading…',
      'list.error': 'Could not load the list: {m}',
      'list.new': '{n} new',
      'list.stream': 'stream',
      'list.key': 'Show only calls with this key',
      'pager.first': '« Newest',
      'pager.prev': '‹ Newer',
      'pager.next': 'Older ›',
      'pager.info': 'Page {p} of {n}',
      'pager.infoMore': 'Page {p} of {n}+',
      'detail.back': '← All requests',
      'detail.curl': 'Copy as curl',
      'detail.json': 'Copy capture JSON',
      'detail.summary': 'Summary',
      'detail.reply': 'Assembled reply',
      'detail.reqHeaders': 'Request headers',
      'detail.respHeaders': 'Response headers',
      'detail.reqBody': 'Request body',
      'detail.respBody': 'Response body',
      'detail.events': 'Stream events',
      'detail.notFound': 'No capture with this id.',
      'detail.error': 'Could not load this capture: {m}',
      'detail.noHeaders': 'No headers',
      'detail.emptyBody': 'Empty body',
      'detail.omitted': 'Not stored (CAPTURE_BODY_MAX is 0)',
      'detail.binary': 'Binary body: {size} of {type}.',
      'detail.download': 'Download',
      'detail.truncated': 'truncated: {stored} of {size} stored',
      'detail.bytes': '{size}',
      'detail.eventsCount': '{n} events',
      'k.method': 'Method',
      'k.url': 'URL',
      'k.time': 'Time',
      'k.status': 'Status',
      'k.outcome': 'Outcome',
      'k.duration': 'Duration',
      'k.ttfb': 'Time to first byte',
      'k.model': 'Model',
      'k.streamed': 'Streamed',
      'k.tokens': 'Tokens (in / out / total)',
      'k.cached': 'Cached / reasoning tokens',
      'k.finish': 'Finish reason',
      'k.key': 'API key',
      'k.client': 'Client',
      'k.error': 'Error',
      'k.id': 'Capture id',
      'copy': 'Copy',
      'copied': 'Copied to the clipboard',
      'copyFailed': 'Copy failed: select the text and copy it by hand',
      'yes': 'yes',
      'no': 'no'
    },
    zh: {
      'app.title': 'OpenAI 代理监控',
      'refresh.label': '自动刷新',
      'refresh.off': '关闭',
      'refresh.pause': '暂停',
      'refresh.resume': '继续',
      'stats.total': '总请求数',
      'stats.success': '成功率',
      'stats.avg': '平均响应时间',
      'stats.tokens': '输入 / 输出 Token',
      'stats.errors': '{n} 个失败 · {c} 个 4xx · {s} 个 5xx',
      'stats.pct': 'p50 {p50} · p95 {p95}',
      'stats.ttfb': '平均首字节时间 {v}',
      'stats.since': '自 {t} 起',
      'chart.timeline': '请求数与延迟趋势',
      'chart.models': '各模型 Token 用量',
      'chart.ok': '成功',
      'chart.err': '失败',
      'chart.latency': '平均延迟',
      'chart.in': '输入 Token',
      'chart.out': '输出 Token',
      'chart.empty': '该时间段没有数据',
      'chart.tipTime': '{n} 个请求 · {e} 个失败 · 平均 {ms}',
      'chart.tipModel': '{n} 个请求 · 输入 {i} · 输出 {o}',
      'filter.search': '搜索提示词、回复、路径、ID…（"精确短语"、-排除、or）',
      'filter.go': '搜索',
      'filter.clear': '清除',
      'filter.range': '时间',
      'filter.model': '模型',
      'filter.status': '状态',
      'filter.method': '方法',
      'filter.streamed': '流式',
      'filter.path': '路径',
      'filter.key': '密钥',
      'filter.keyph': '指纹',
      'filter.any': '全部',
      'filter.failed': '失败',
      'filter.yes': '是',
      'filter.no': '否',
      'range.all': '全部时间',
      'range.15m': '最近 15 分钟',
      'range.1h': '最近 1 小时',
      'range.24h': '最近 24 小时',
      'range.7d': '最近 7 天',
      'range.30d': '最近 30 天',
      'col.time': '时间',
      'col.method': '方法',
      'col.path': '路径',
      'col.status': '状态',
      'col.model': '模型',
      'col.duration': '耗时',
      'col.tokens': 'Token',
      'list.empty': '没有匹配的请求。',
      'list.count': '共 {n} 个请求',
      'list.countOne': '共 1 个请求',
      'list.countMore': '超过 {n} 个请求',
      'list.countAbout': '约 {n} 个请求',
      'list.loading': '加载中…',
      'list.error': '无法加载列表：{m}',
      'list.new': '{n} 个新请求',
      'list.stream': '流式',
      'list.key': '只看使用此密钥的请求',
      'pager.first': '« 最新',
      'pager.prev': '‹ 较新',
      'pager.next': '较早 ›',
      'pager.info': '第 {p} 页，共 {n} 页',
      'pager.infoMore': '第 {p} 页，共 {n}+ 页',
      'detail.back': '← 全部请求',
      'detail.curl': '复制为 curl',
      'detail.json': '复制记录 JSON',
      'detail.summary': '基本信息',
      'detail.reply': '拼接后的回复',
      'detail.reqHeaders': '请求头',
      'detail.respHeaders': '响应头',
      'detail.reqBody': '请求体',
      'detail.respBody': '响应体',
      'detail.events': '流式事件',
      'detail.notFound': '没有这个 ID 的记录。',
      'detail.error': '无法加载该记录：{m}',
      'detail.noHeaders': '没有请求头',
      'detail.emptyBody': '空',
      'detail.omitted': '未保存（CAPTURE_BODY_MAX 为 0）',
      'detail.binary': '二进制内容：{size}，类型 {type}。',
      'detail.download': '下载',
      'detail.truncated': '已截断：保存了 {size} 中的 {stored}',
      'detail.bytes': '{size}',
      'detail.eventsCount': '{n} 个事件',
      'k.method': '方法',
      'k.url': 'URL',
      'k.time': '时间',
      'k.status': '状态',
      'k.outcome': '结果',
      'k.duration': '耗时',
      'k.ttfb': '首字节时间',
      'k.model': '模型',
      'k.streamed': '流式',
      'k.tokens': 'Token（输入 / 输出 / 合计）',
      'k.cached': '缓存 / 推理 Token',
      'k.finish': '结束原因',
      'k.key': 'API 密钥',
      'k.client': '客户端',
      'k.error': '错误',
      'k.id': '记录 ID',
      'copy': '复制',
      'copied': '已复制到剪贴板',
      'copyFailed': '复制失败：请手动选择文本复制',
      'yes': '是',
      'no': '否'
    }
  };

  var KEY = 'capture.lang';

  function current() {
    var lang = null;
    try { lang = window.localStorage.getItem(KEY); } catch (e) { lang = null; }
    return STRINGS[lang] ? lang : 'en';
  }

  /* The text for key with {name} placeholders filled from vars (as text). */
  function t(key, vars) {
    var table = STRINGS[current()];
    var s = Object.prototype.hasOwnProperty.call(table, key) ? table[key] : STRINGS.en[key] || key;
    if (vars) {
      s = s.replace(/\{(\w+)\}/g, function (m, name) {
        return Object.prototype.hasOwnProperty.call(vars, name) ? String(vars[name]) : m;
      });
    }
    return s;
  }

  /* Fills every data-i18n element of the page (textContent only). */
  function apply(root) {
    var scope = root || document;
    scope.querySelectorAll('[data-i18n]').forEach(function (el) {
      el.textContent = t(el.getAttribute('data-i18n'));
    });
    scope.querySelectorAll('[data-i18n-placeholder]').forEach(function (el) {
      el.setAttribute('placeholder', t(el.getAttribute('data-i18n-placeholder')));
    });
    document.documentElement.lang = current() === 'zh' ? 'zh-CN' : 'en';
  }

  function set(lang) {
    if (!STRINGS[lang]) return;
    try { window.localStorage.setItem(KEY, lang); } catch (e) { /* private mode */ }
    apply();
    document.dispatchEvent(new CustomEvent('langchange'));
  }

  window.I18N = { t: t, apply: apply, set: set, current: current };
})();
