/* jsonstr.c - JSON string escaping that PostgreSQL's jsonb always accepts. */
#include "jsonstr.h"
#include "utf8.h"
#include "banned.h"

static void add_escaped(struct buf *out, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, start = 0;

	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch != '"' && ch != '\\' && ch >= 0x20)
			continue;
		buf_add(out, s + start, i - start);
		start = i + 1;
		if (ch == '"' || ch == '\\') {
			buf_addch(out, '\\');
			buf_addch(out, (char)ch);
		} else {
			char esc[6] = { '\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15] };

			buf_add(out, esc, 6);
		}
	}
	buf_add(out, s + start, n - start);
}

void json_add_string(struct buf *out, const char *s, size_t n)
{
	buf_addch(out, '"');
	if (utf8_is_text(s, n)) {
		add_escaped(out, s, n);
	} else {
		struct buf clean;

		buf_init(&clean, BUF_NO_CAP);
		utf8_sanitize(s, n, &clean);
		add_escaped(out, clean.data, clean.len);
		buf_release(&clean);
	}
	buf_addch(out, '"');
}
