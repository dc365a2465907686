/* highlight.js - a small JSON syntax highlighter that builds DOM nodes.
 *
 * Tokens become <span class="j-key|j-str|j-num|j-lit|j-punct"> holding text
 * nodes: the highlighted text is never parsed as HTML. Past LIMIT characters
 * the text is shown plain, so a 4 MB body cannot stall the page. */
'use strict';

(function () {
  var LIMIT = 300000;
  var TOKEN = /("(?:[^"\\]|\\.)*")(\s*:)?|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|(true|false|null)|([{}[\],:])/g;

  /* Appends text to node, JSON tokens wrapped in classed spans. */
  function json(node, text) {
    var head = text.length > LIMIT ? text.slice(0, LIMIT) : text;
    var last = 0, m, frag = document.createDocumentFragment();
    TOKEN.lastIndex = 0;
    while ((m = TOKEN.exec(head)) !== null) {
      if (m.index > last) frag.appendChild(document.createTextNode(head.slice(last, m.index)));
      var cls = m[1] ? (m[2] ? 'j-key' : 'j-str') : m[3] ? 'j-num' : m[4] ? 'j-lit' : 'j-punct';
      var span = document.createElement('span');
      span.className = cls;
      span.textContent = m[1] || m[0];
      frag.appendChild(span);
      if (m[1] && m[2]) {
        var colon = document.createElement('span');
        colon.className = 'j-punct';
        colon.textContent = m[2];
        frag.appendChild(colon);
      }
      last = TOKEN.lastIndex;
    }
    frag.appendChild(document.createTextNode(text.slice(last)));
    node.appendChild(frag);
  }

  /* Pretty JSON text of a value (or the text itself when it is not JSON). */
  function pretty(value) {
    if (typeof value === 'string') {
      try { return JSON.stringify(JSON.parse(value), null, 2); } catch (e) { return value; }
    }
    return JSON.stringify(value, null, 2);
  }

  window.Highlight = { json: json, pretty: pretty };
})();
