/* jsonw.c - streaming JSON writer with HTML-safe string escapes. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "jsonw.h"
#include "utf8.h"
#include "banned.h"

void jw_init(struct jw *w, jw_sink_fn sink, void *ctx)
{
	memset(w, 0, sizeof(*w));
	w->sink = sink;
	w->ctx = ctx;
}

/* Puts the comma before a value or key when the container already has one. */
static void jw_before_value(struct jw *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (w->depth > 0 && w->depth <= JW_MAX_DEPTH) {
		if (w->has_items[w->depth - 1])
			w->sink(w->ctx, ",", 1);
		w->has_items[w->depth - 1] = true;
	}
}

static void jw_open(struct jw *w, const char *c)
{
	jw_before_value(w);
	w->sink(w->ctx, c, 1);
	w->depth++;
	if (w->depth <= JW_MAX_DEPTH)
		w->has_items[w->depth - 1] = false;
}

static void jw_close(struct jw *w, const char *c)
{
	if (w->depth > 0)
		w->depth--;
	w->sink(w->ctx, c, 1);
}

void jw_object_begin(struct jw *w)
{
	jw_open(w, "{");
}

void jw_object_end(struct jw *w)
{
	jw_close(w, "}");
}

void jw_array_begin(struct jw *w)
{
	jw_open(w, "[");
}

void jw_array_end(struct jw *w)
{
	jw_close(w, "]");
}

void jw_key(struct jw *w, const char *key)
{
	jw_string(w, key, strlen(key));
	w->sink(w->ctx, ":", 1);
	w->after_key = true;
}

static bool needs_escape(unsigned cp)
{
	return cp < 0x20 || cp == '"' || cp == '\\' || cp == '<' || cp == '>' ||
	       cp == '&' || cp == '\'' || cp == 0x7f || cp == 0x2028 || cp == 0x2029;
}

static void escape_one(jw_sink_fn sink, void *ctx, unsigned cp)
{
	char tmp[8];

	switch (cp) {
	case '"': sink(ctx, "\\\"", 2); return;
	case '\\': sink(ctx, "\\\\", 2); return;
	case '\n': sink(ctx, "\\n", 2); return;
	case '\r': sink(ctx, "\\r", 2); return;
	case '\t': sink(ctx, "\\t", 2); return;
	default:
		snprintf(tmp, sizeof(tmp), "\\u%04x", cp);
		sink(ctx, tmp, 6);
	}
}

void jw_escape(jw_sink_fn sink, void *ctx, const char *p, size_t n)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t i = 0, run = 0;

	while (i < n) {
		unsigned cp = 0;
		size_t len = utf8_decode(s + i, n - i, &cp);

		if (len && !needs_escape(cp)) {
			i += len;
			run += len;
			continue;
		}
		if (run)
			sink(ctx, (const char *)s + i - run, run);
		run = 0;
		if (len) {
			escape_one(sink, ctx, cp);
			i += len;
		} else {
			sink(ctx, "\\ufffd", 6);
			i++;
		}
	}
	if (run)
		sink(ctx, (const char *)s + n - run, run);
}

void jw_string(struct jw *w, const char *p, size_t n)
{
	jw_before_value(w);
	w->sink(w->ctx, "\"", 1);
	jw_escape(w->sink, w->ctx, p, n);
	w->sink(w->ctx, "\"", 1);
}

void jw_string_begin(struct jw *w)
{
	jw_before_value(w);
	w->sink(w->ctx, "\"", 1);
}

void jw_string_part(struct jw *w, const char *p, size_t n)
{
	jw_escape(w->sink, w->ctx, p, n);
}

void jw_string_end(struct jw *w)
{
	w->sink(w->ctx, "\"", 1);
}

void jw_cstring(struct jw *w, const char *s)
{
	if (s)
		jw_string(w, s, strlen(s));
	else
		jw_null(w);
}

void jw_int(struct jw *w, long long v)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof(tmp), "%lld", v);

	jw_raw(w, tmp, (size_t)n);
}

void jw_double(struct jw *w, double v)
{
	char tmp[40];
	int n;

	if (!isfinite(v)) {
		jw_null(w);
		return;
	}
	n = snprintf(tmp, sizeof(tmp), "%.17g", v);
	/* the shortest form that still reads back the same number */
	for (int prec = 6; prec < 17; prec++) {
		char shorter[40];
		int m = snprintf(shorter, sizeof(shorter), "%.*g", prec, v);
		double back = 0;

		if (sscanf(shorter, "%lf", &back) == 1 && back == v) {
			memcpy(tmp, shorter, (size_t)m + 1);
			n = m;
			break;
		}
	}
	jw_raw(w, tmp, (size_t)n);
}

void jw_bool(struct jw *w, bool v)
{
	if (v)
		jw_raw(w, "true", 4);
	else
		jw_raw(w, "false", 5);
}

void jw_null(struct jw *w)
{
	jw_raw(w, "null", 4);
}

void jw_raw(struct jw *w, const char *p, size_t n)
{
	jw_before_value(w);
	w->sink(w->ctx, p, n);
}
