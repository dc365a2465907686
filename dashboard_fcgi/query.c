/* query.c - query-string decoding and the checks on every dashboard parameter. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "query.h"
#include "utf8.h"
#include "xalloc.h"
#include "banned.h"

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decodes p[0..n) (+ is a space) into a new string; -1 on a bad escape. */
static int decode(const char *p, size_t n, char **out, size_t *outlen)
{
	char *s = xmalloc(n + 1);
	size_t i, o = 0;
	int rc = -1;

	for (i = 0; i < n; i++) {
		int hi, lo;

		if (p[i] != '%') {
			s[o++] = p[i] == '+' ? ' ' : p[i];
			continue;
		}
		if (i + 2 >= n)
			goto out;
		hi = hexval((unsigned char)p[i + 1]);
		lo = hexval((unsigned char)p[i + 2]);
		if (hi < 0 || lo < 0)
			goto out;
		s[o++] = (char)(hi * 16 + lo);
		i += 2;
	}
	s[o] = '\0';
	*out = s;
	*outlen = o;
	s = NULL;
	rc = 0;
out:
	free(s);
	return rc;
}

/* Adds the pair in p[0..n) ("name=value" or "name"). */
static int qs_add(struct qstring *qs, const char *p, size_t n, char *err, size_t errlen)
{
	const char *eq = memchr(p, '=', n);
	size_t name_n = eq ? (size_t)(eq - p) : n;
	struct qparam *q;
	size_t dummy;
	int rc = -1;

	if (qs->n >= QUERY_MAX_PARAMS) {
		snprintf(err, errlen, "too many query parameters (at most %d)", QUERY_MAX_PARAMS);
		goto out;
	}
	q = &qs->p[qs->n];
	if (decode(p, name_n, &q->name, &dummy) < 0) {
		snprintf(err, errlen, "malformed %%-escape in a parameter name");
		goto out;
	}
	if (decode(eq ? eq + 1 : p + n, eq ? n - name_n - 1 : 0, &q->value, &q->len) < 0) {
		snprintf(err, errlen, "malformed %%-escape in parameter %.40s", q->name);
		free(q->name);
		q->name = NULL;
		goto out;
	}
	qs->n++;
	rc = 0;
out:
	return rc;
}

int qs_parse(struct qstring *qs, const char *raw, char *err, size_t errlen)
{
	const char *p = raw ? raw : "";
	int rc = 0;

	memset(qs, 0, sizeof(*qs));
	while (*p && rc == 0) {
		size_t n = strcspn(p, "&");

		if (n)
			rc = qs_add(qs, p, n, err, errlen);
		p += n;
		if (*p == '&')
			p++;
	}
	return rc;
}

const struct qparam *qs_get(const struct qstring *qs, const char *name)
{
	int i;

	for (i = qs->n - 1; i >= 0; i--)
		if (!strcmp(qs->p[i].name, name))
			return &qs->p[i];
	return NULL;
}

void qs_release(struct qstring *qs)
{
	int i;

	for (i = 0; i < qs->n; i++) {
		free(qs->p[i].name);
		free(qs->p[i].value);
	}
	qs->n = 0;
}

/* --- cursor --------------------------------------------------------------- */

static const char b64url[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* The 16 bytes of a canonical UUID string. */
static void uuid_bytes(const char *id, unsigned char out[16])
{
	int i, o = 0;

	for (i = 0; id[i] && o < 16; i++) {
		if (id[i] == '-')
			continue;
		out[o++] = (unsigned char)(hexval((unsigned char)id[i]) * 16 +
					   hexval((unsigned char)id[i + 1]));
		i++;
	}
}

void cursor_encode(const struct cursor *c, char out[CURSOR_LEN + 1])
{
	unsigned char raw[24];
	uint64_t us = (uint64_t)c->us;
	int i, o = 0;

	for (i = 0; i < 8; i++)
		raw[i] = (unsigned char)(us >> (56 - 8 * i));
	uuid_bytes(c->id, raw + 8);
	for (i = 0; i < 24; i += 3) {
		unsigned v = (unsigned)raw[i] << 16 | (unsigned)raw[i + 1] << 8 | raw[i + 2];

		out[o++] = b64url[v >> 18];
		out[o++] = b64url[(v >> 12) & 63];
		out[o++] = b64url[(v >> 6) & 63];
		out[o++] = b64url[v & 63];
	}
	out[o] = '\0';
}

int cursor_decode(const char *s, struct cursor *c)
{
	unsigned char raw[24];
	uint64_t us = 0;
	int i, k;

	if (strlen(s) != CURSOR_LEN)
		return -1;
	for (i = 0; i < CURSOR_LEN; i += 4) {
		unsigned v = 0;

		for (k = 0; k < 4; k++) {
			const char *at = strchr(b64url, s[i + k]);

			if (!at || !s[i + k])
				return -1;
			v = v << 6 | (unsigned)(at - b64url);
		}
		raw[i / 4 * 3] = (unsigned char)(v >> 16);
		raw[i / 4 * 3 + 1] = (unsigned char)(v >> 8);
		raw[i / 4 * 3 + 2] = (unsigned char)v;
	}
	for (i = 0; i < 8; i++)
		us = us << 8 | raw[i];
	if (us > (uint64_t)INT64_MAX)
		return -1;
	c->us = (int64_t)us;
	uuid_format(raw + 8, c->id);
	return 0;
}

/* --- time ----------------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's formula). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Reads exactly n digits at *p into *v. */
static int fixed_digits(const char **p, int n, int *v)
{
	int i, r = 0;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		r = r * 10 + (*p)[i] - '0';
	}
	*p += n;
	*v = r;
	return 0;
}

static int days_in_month(int y, int m)
{
	static const int dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : dm[m - 1];
}

/* "Z", "+08:00", "-0530", or " 08:00" (a + that became a space in a URL). */
static int zone_offset(const char *p, int64_t *offset_s)
{
	int sign, hh, mm = 0;

	if (!*p || !strcmp(p, "Z") || !strcmp(p, "z")) {
		*offset_s = 0;
		return 0;
	}
	if (*p != '+' && *p != '-' && *p != ' ')
		return -1;
	sign = *p == '-' ? -1 : 1;
	p++;
	if (fixed_digits(&p, 2, &hh) < 0)
		return -1;
	if (*p == ':')
		p++;
	if (*p && fixed_digits(&p, 2, &mm) < 0)
		return -1;
	if (*p || hh > 23 || mm > 59)
		return -1;
	*offset_s = sign * (hh * 3600 + mm * 60);
	return 0;
}

/* The clock part after the date: "HH:MM[:SS[.fff]]"; p points past 'T'. */
static int clock_part(const char **p, int64_t *secs, int64_t *frac_us)
{
	int hh, mi, ss = 0;
	int64_t us = 0, scale = 100000;

	if (fixed_digits(p, 2, &hh) < 0 || **p != ':')
		return -1;
	(*p)++;
	if (fixed_digits(p, 2, &mi) < 0)
		return -1;
	if (**p == ':') {
		(*p)++;
		if (fixed_digits(p, 2, &ss) < 0)
			return -1;
		if (**p == '.' || **p == ',') {
			(*p)++;
			if (!isdigit((unsigned char)**p))
				return -1;
			while (isdigit((unsigned char)**p)) {
				us += (**p - '0') * scale;
				scale /= 10;
				(*p)++;
			}
		}
	}
	if (hh > 23 || mi > 59 || ss > 60)
		return -1;
	*secs = hh * 3600 + mi * 60 + ss;
	*frac_us = us;
	return 0;
}

static int iso_parse(const char *s, int64_t *us)
{
	const char *p = s;
	int y, m, d;
	int64_t secs = 0, frac = 0, offset = 0;

	if (fixed_digits(&p, 4, &y) < 0 || *p++ != '-' ||
	    fixed_digits(&p, 2, &m) < 0 || *p++ != '-' ||
	    fixed_digits(&p, 2, &d) < 0)
		return -1;
	if (m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
		return -1;
	if (*p == 'T' || *p == 't' || (*p == ' ' && isdigit((unsigned char)p[1]) &&
				       isdigit((unsigned char)p[2]) && p[3] == ':')) {
		p++;
		if (clock_part(&p, &secs, &frac) < 0)
			return -1;
	}
	if (zone_offset(p, &offset) < 0)
		return -1;
	*us = ((days_from_civil(y, m, d) * 86400 + secs - offset) * 1000000) + frac;
	return 0;
}

int time_parse(const char *s, int64_t *us)
{
	const char *p = s;
	long long ms;
	char *end;

	if (!*p)
		return -1;
	while (isdigit((unsigned char)*p))
		p++;
	if (*p)
		return iso_parse(s, us);
	if (p - s > 15)
		return -1;
	errno = 0;
	ms = strtoll(s, &end, 10);
	if (errno || *end)
		return -1;
	*us = ms * 1000;
	return 0;
}

/* --- filters -------------------------------------------------------------- */

char *query_like_pattern(const char *s)
{
	struct buf b;
	char *out;

	buf_init(&b, BUF_NO_CAP);
	buf_addch(&b, '%');
	for (; *s; s++) {
		if (*s == '\\' || *s == '%' || *s == '_')
			buf_addch(&b, '\\');
		buf_addch(&b, *s);
	}
	buf_addch(&b, '%');
	out = buf_detach(&b, NULL);
	return out;
}

/* The value of name as checked text, NULL if absent or empty. -1 if it is
 * not valid UTF-8, holds a NUL or is longer than max bytes. */
static int text_param(const struct qstring *qs, const char *name, size_t max,
		      const char **out, char *err, size_t errlen)
{
	const struct qparam *q = qs_get(qs, name);

	*out = NULL;
	if (!q || !q->len)
		return 0;
	if (q->len > max) {
		snprintf(err, errlen, "%s: at most %zu bytes", name, max);
		return -1;
	}
	if (!utf8_is_text(q->value, q->len)) {
		snprintf(err, errlen, "%s: must be UTF-8 text without NUL bytes", name);
		return -1;
	}
	*out = q->value;
	return 0;
}

/* A copy of s without leading and trailing spaces; NULL if nothing is left. */
static char *trimmed(const char *s)
{
	size_t n;

	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	return n ? xmemdupz(s, n) : NULL;
}

static const char *const methods[] = {
	"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", NULL
};

static const char *method_named(const char *s)
{
	int i;

	for (i = 0; methods[i]; i++)
		if (!strcasecmp(s, methods[i]))
			return methods[i];
	return NULL;
}

static int parse_search(const struct qstring *qs, struct filters *f, char *err, size_t errlen)
{
	const char *v;

	if (text_param(qs, "search", QUERY_SEARCH_MAX, &v, err, errlen) < 0)
		return -1;
	if (!v)
		return 0;
	f->search = trimmed(v);
	if (!f->search)
		return 0;
	if (strlen(f->search) >= 3)
		f->search_like = query_like_pattern(f->search);
	f->search_method = method_named(f->search);
	return 0;
}

static int parse_status(const struct qstring *qs, struct filters *f, char *err, size_t errlen)
{
	const char *v;

	if (text_param(qs, "status", 16, &v, err, errlen) < 0)
		return -1;
	if (!v)
		return 0;
	if (!strcasecmp(v, "error") || !strcasecmp(v, "failed")) {
		f->failed = true;
	} else if (strlen(v) == 3 && v[0] >= '1' && v[0] <= '5' &&
		   (!strcasecmp(v + 1, "xx"))) {
		f->status_lo = (v[0] - '0') * 100;
		f->status_hi = f->status_lo + 99;
	} else if (strlen(v) == 3 && isdigit((unsigned char)v[0]) && v[0] >= '1' &&
		   isdigit((unsigned char)v[1]) && isdigit((unsigned char)v[2])) {
		f->status_lo = f->status_hi = (int)strtol(v, NULL, 10);
	} else {
		snprintf(err, errlen, "status: use 2xx, 3xx, 4xx, 5xx, error or a code such as 429");
		return -1;
	}
	return 0;
}

static int parse_method(const struct qstring *qs, struct filters *f, char *err, size_t errlen)
{
	const char *v;
	size_t i;

	if (text_param(qs, "method", 16, &v, err, errlen) < 0)
		return -1;
	if (!v)
		return 0;
	f->method = xstrdup(v);
	for (i = 0; f->method[i]; i++) {
		if (!isalpha((unsigned char)f->method[i])) {
			snprintf(err, errlen, "method: letters only, such as POST");
			return -1;
		}
		f->method[i] = (char)toupper((unsigned char)f->method[i]);
	}
	return 0;
}

static int parse_key(const struct qstring *qs, struct filters *f, char *err, size_t errlen)
{
	const char *v;
	size_t i;

	if (text_param(qs, "key", 64, &v, err, errlen) < 0)
		return -1;
	if (!v)
		return 0;
	f->key = xstrdup(v);
	for (i = 0; f->key[i]; i++) {
		if (!isxdigit((unsigned char)f->key[i])) {
			snprintf(err, errlen, "key: a key fingerprint (hex digits)");
			return -1;
		}
		f->key[i] = (char)tolower((unsigned char)f->key[i]);
	}
	return 0;
}

static int parse_streamed(const struct qstring *qs, struct filters *f, char *err, size_t errlen)
{
	const char *v;

	f->streamed = -1;
	if (text_param(qs, "streamed", 8, &v, err, errlen) < 0)
		return -1;
	if (!v)
		return 0;
	if (!strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes")) {
		f->streamed = 1;
	} else if (!strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "no")) {
		f->streamed = 0;
	} else {
		snprintf(err, errlen, "streamed: true or false");
		return -1;
	}
	return 0;
}

static const char *const outcomes[] = {
	"completed", "upstream_error", "unreachable", "timeout", "client_aborted",
	"rejected", "proxy_error", NULL
};

static int parse_outcome(const struct qstring *qs, struct filters *f, char *err, size_t errlen)
{
	const char *v;
	int i;

	if (text_param(qs, "outcome", 32, &v, err, errlen) < 0)
		return -1;
	if (!v)
		return 0;
	for (i = 0; outcomes[i]; i++)
		if (!strcmp(v, outcomes[i]))
			f->outcome = outcomes[i];
	if (!f->outcome) {
		snprintf(err, errlen, "outcome: one of completed, upstream_error, unreachable, "
			 "timeout, client_aborted, rejected, proxy_error");
		return -1;
	}
	return 0;
}

static int parse_time(const struct qstring *qs, const char *name, bool *has, int64_t *us,
		      char *err, size_t errlen)
{
	const char *v;

	if (text_param(qs, name, 64, &v, err, errlen) < 0)
		return -1;
	if (!v)
		return 0;
	if (time_parse(v, us) < 0) {
		snprintf(err, errlen, "%s: an ISO 8601 time (2025-01-31T12:00:00Z) "
			 "or Unix milliseconds", name);
		return -1;
	}
	*has = true;
	return 0;
}

/* An exact-match text filter: *out is a copy of the value, NULL if absent. */
static int parse_exact(const struct qstring *qs, const char *name, char **out,
		       char *err, size_t errlen)
{
	const char *v;

	if (text_param(qs, name, QUERY_VALUE_MAX, &v, err, errlen) < 0)
		return -1;
	*out = xstrdup(v);
	return 0;
}

static int parse_text_filters(const struct qstring *qs, struct filters *f, char *err, size_t errlen)
{
	const char *v;

	if (text_param(qs, "model", 256, &v, err, errlen) < 0)
		return -1;
	f->model = xstrdup(v);
	if (text_param(qs, "path", QUERY_VALUE_MAX, &v, err, errlen) < 0)
		return -1;
	if (v)
		f->path_like = query_like_pattern(v);
	return 0;
}

/* instance, user, end_user, session and tag: who made the call. */
static int parse_attribution(const struct qstring *qs, struct filters *f, char *err, size_t errlen)
{
	if (parse_exact(qs, "instance", &f->instance, err, errlen) < 0 ||
	    parse_exact(qs, "user", &f->user, err, errlen) < 0 ||
	    parse_exact(qs, "end_user", &f->end_user, err, errlen) < 0 ||
	    parse_exact(qs, "session", &f->session, err, errlen) < 0 ||
	    parse_exact(qs, "tag", &f->tag, err, errlen) < 0)
		return -1;
	return 0;
}

int filters_parse(const struct qstring *qs, struct filters *f, char *err, size_t errlen)
{
	int rc = -1;

	memset(f, 0, sizeof(*f));
	f->streamed = -1;
	if (parse_search(qs, f, err, errlen) < 0 || parse_status(qs, f, err, errlen) < 0 ||
	    parse_method(qs, f, err, errlen) < 0 || parse_key(qs, f, err, errlen) < 0 ||
	    parse_streamed(qs, f, err, errlen) < 0 || parse_outcome(qs, f, err, errlen) < 0 ||
	    parse_text_filters(qs, f, err, errlen) < 0 ||
	    parse_attribution(qs, f, err, errlen) < 0 ||
	    parse_time(qs, "from", &f->has_from, &f->from_us, err, errlen) < 0 ||
	    parse_time(qs, "to", &f->has_to, &f->to_us, err, errlen) < 0)
		goto out;
	if (f->has_from && f->has_to && f->from_us >= f->to_us) {
		snprintf(err, errlen, "from: must be earlier than to");
		goto out;
	}
	rc = 0;
out:
	return rc;
}

bool filters_any(const struct filters *f)
{
	return f->search || f->model || f->status_lo || f->failed || f->method ||
	       f->path_like || f->streamed >= 0 || f->key || f->outcome ||
	       f->instance || f->user || f->end_user || f->session || f->tag ||
	       f->has_from || f->has_to;
}

void filters_release(struct filters *f)
{
	free(f->search);
	free(f->search_like);
	free(f->model);
	free(f->method);
	free(f->path_like);
	free(f->key);
	free(f->instance);
	free(f->user);
	free(f->end_user);
	free(f->session);
	free(f->tag);
	memset(f, 0, sizeof(*f));
}

static const char *const group_names[] = {
	[GROUP_MODEL] = "model", [GROUP_INSTANCE] = "instance", [GROUP_USER] = "user",
	[GROUP_END_USER] = "end_user", [GROUP_SESSION] = "session", [GROUP_TAG] = "tag",
	[GROUP_KEY] = "key", [GROUP_STATUS] = "status", [GROUP_PATH] = "path"
};

const char *group_by_name(enum group_by g)
{
	return g > GROUP_NONE && g <= GROUP_PATH ? group_names[g] : NULL;
}

int group_by_parse(const struct qstring *qs, enum group_by *g, char *err, size_t errlen)
{
	const char *v;
	int i;

	*g = GROUP_NONE;
	if (text_param(qs, "group_by", 32, &v, err, errlen) < 0)
		return -1;
	if (!v)
		return 0;
	for (i = GROUP_MODEL; i <= GROUP_PATH; i++)
		if (!strcmp(v, group_names[i]))
			*g = (enum group_by)i;
	if (*g == GROUP_NONE) {
		snprintf(err, errlen, "group_by: one of model, instance, user, end_user, session, "
			 "tag, key, status, path");
		return -1;
	}
	return 0;
}

/* An integer parameter in [lo, hi]; *v keeps its default when absent. */
static int long_param(const struct qstring *qs, const char *name, long lo, long hi,
		      long *v, char *err, size_t errlen)
{
	const struct qparam *q = qs_get(qs, name);
	char *end;
	long r;

	if (!q || !q->len)
		return 0;
	errno = 0;
	r = strtol(q->value, &end, 10);
	if (errno || *end || end == q->value || !isdigit((unsigned char)q->value[0]) ||
	    r < lo || r > hi) {
		snprintf(err, errlen, "%s: a whole number from %ld to %ld", name, lo, hi);
		return -1;
	}
	*v = r;
	return 0;
}

int list_params_parse(const struct qstring *qs, int default_size,
		      struct list_params *lp, char *err, size_t errlen)
{
	const struct qparam *c;
	long size = default_size;
	int rc = -1;

	memset(lp, 0, sizeof(*lp));
	lp->page = 1;
	if (filters_parse(qs, &lp->f, err, errlen) < 0 ||
	    long_param(qs, "page", 1, QUERY_PAGE_MAX, &lp->page, err, errlen) < 0 ||
	    long_param(qs, "page_size", 1, QUERY_PAGE_SIZE_MAX, &size, err, errlen) < 0)
		goto out;
	lp->page_size = (int)size;
	c = qs_get(qs, "cursor");
	if (c && c->len) {
		if (c->len != strlen(c->value) || cursor_decode(c->value, &lp->cursor) < 0) {
			snprintf(err, errlen, "cursor: not a cursor this API returned");
			goto out;
		}
		lp->has_cursor = true;
	}
	rc = 0;
out:
	return rc;
}

void list_params_release(struct list_params *lp)
{
	filters_release(&lp->f);
}
