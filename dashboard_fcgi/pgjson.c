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
