/* pgjson.c - PGresult columns as JSON values. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pgjson.h"
#include "banned.h"

void pj_text(struct jw *w, const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		jw_null(w);
	else
		jw_string(w, PQgetvalue(res, row, col), (size_t)PQgetlength(res, row, col));
}

void pj_int(struct jw *w, const PGresult *res, int row, int col)
{
	const char *v = PQgetvalue(res, row, col);
	size_t i = *v == '-' ? 1 : 0, n = strlen(v);

	if (PQgetisnull(res, row, col) || n == i || n > 20) {
		jw_null(w);
		return;
	}
	for (; i < n; i++) {
		if (!isdigit((unsigned char)v[i])) {
			jw_null(w);
			return;
		}
	}
	jw_raw(w, v, n);
}

void pj_float(struct jw *w, const PGresult *res, int row, int col)
{
	const char *v = PQgetvalue(res, row, col);
	char *end;
	double d;

	if (PQgetisnull(res, row, col)) {
		jw_null(w);
		return;
	}
	errno = 0;
	d = strtod(v, &end);
	if (errno || *end || end == v)
		jw_null(w);
	else
		jw_double(w, d);
}

void pj_bool(struct jw *w, const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		jw_null(w);
	else
		jw_bool(w, PQgetvalue(res, row, col)[0] == 't');
}

/* A quoted element at p[*i] (the opening quote): backslash escapes the next
 * character. Written in pieces between the escapes. */
static int quoted_element(const char *p, size_t n, size_t *i, struct jw *w)
{
	size_t at = *i + 1, run = at;

	if (w)
		jw_string_begin(w);
	for (; at < n && p[at] != '"'; at++) {
		if (p[at] != '\\')
			continue;
		if (w)
			jw_string_part(w, p + run, at - run);
		run = ++at;
		if (at >= n)
			return -1;
	}
	if (at >= n)
		return -1;
	if (w) {
		jw_string_part(w, p + run, at - run);
		jw_string_end(w);
	}
	*i = at + 1;
	return 0;
}

/* An unquoted element at p[*i]: up to the next comma; NULL is SQL NULL. */
static int bare_element(const char *p, size_t n, size_t *i, struct jw *w)
{
	size_t at = *i;

	while (at < n && p[at] != ',') {
		if (strchr("\"{}\\", p[at]))
			return -1;
		at++;
	}
	if (at == *i)
		return -1;
	if (w && at - *i == 4 && !memcmp(p + *i, "NULL", 4))
		jw_null(w);
	else if (w)
		jw_string(w, p + *i, at - *i);
	*i = at;
	return 0;
}

int pj_array_walk(const char *p, size_t n, struct jw *w)
{
	size_t i = 1, end = n - 1;

	if (n < 2 || p[0] != '{' || p[end] != '}')
		return -1;
	if (w)
		jw_array_begin(w);
	while (i < end) {
		int rc = p[i] == '"' ? quoted_element(p, end, &i, w) : bare_element(p, end, &i, w);

		if (rc < 0 || (i < end && (p[i] != ',' || i + 1 == end)))
			return -1;
		if (i < end)
			i++;
	}
	if (w)
		jw_array_end(w);
	return 0;
}

void pj_text_array(struct jw *w, const PGresult *res, int row, int col)
{
	const char *v = PQgetvalue(res, row, col);
	size_t n = (size_t)PQgetlength(res, row, col);

	if (PQgetisnull(res, row, col) || pj_array_walk(v, n, NULL) < 0)
		jw_null(w);
	else
		pj_array_walk(v, n, w);
}

void pj_key_text_array(struct jw *w, const char *key, const PGresult *res, int row, int col)
{
	jw_key(w, key);
	pj_text_array(w, res, row, col);
}

void pj_key_text(struct jw *w, const char *key, const PGresult *res, int row, int col)
{
	jw_key(w, key);
	pj_text(w, res, row, col);
}

void pj_key_int(struct jw *w, const char *key, const PGresult *res, int row, int col)
{
	jw_key(w, key);
	pj_int(w, res, row, col);
}

void pj_key_float(struct jw *w, const char *key, const PGresult *res, int row, int col)
{
	jw_key(w, key);
	pj_float(w, res, row, col);
}

void pj_key_bool(struct jw *w, const char *key, const PGresult *res, int row, int col)
{
	jw_key(w, key);
	pj_bool(w, res, row, col);
}

long long pj_long(const PGresult *res, int row, int col, long long dflt)
{
	const char *v;
	char *end;
	long long r;

	if (PQgetisnull(res, row, col))
		return dflt;
	v = PQgetvalue(res, row, col);
	errno = 0;
	r = strtoll(v, &end, 10);
	return errno || *end || end == v ? dflt : r;
}

void pj_key_usage(struct jw *w, const PGresult *res, int row, int col)
{
	static const char *const names[] = {
		"prompt_tokens", "completion_tokens", "total_tokens",
		"cached_tokens", "reasoning_tokens",
	};
	size_t i;

	jw_key(w, "usage");
	jw_object_begin(w);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		pj_key_int(w, names[i], res, row, col + (int)i);
	jw_object_end(w);
}
