/* fuzz_dashboard_query.c - the dashboard's query-string, filter, cursor, time and id parsing.
 *
 * The input (up to a NUL) is the query string of a dashboard URL, as
 * /api/requests and /api/stats hand it to qs_parse; every decoded value (and
 * the raw input) is also tried as a time, a cursor, a capture id and a Host
 * header. Properties:
 * a refusal always says why, and a filter's or the list's refusal names a
 * parameter that was given ("status: ..."); what is accepted is in range
 * and, for every string that becomes an SQL parameter, valid UTF-8 without
 * NUL; the exact-match filters (instance, user, end_user, session, tag) keep
 * an accepted value byte for byte and refuse one that is not text or too
 * long; group_by takes exactly the names of the stats API; a cursor decodes
 * only if it re-encodes to the same token; ids are exactly the canonical
 * UUID form. */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "hostcheck.h"
#include "query.h"
#include "utf8.h"
#include "uuid.h"
#include "fuzz.h"
#include "banned.h"

/* 0000-01-01 and 9999-12-31T23:59:60, a day of zone offset either side. */
#define ISO_MIN_US (-62167219200LL * 1000000 - 86400LL * 1000000)
#define ISO_MAX_US (253402300800LL * 1000000 + 86400LL * 1000000)

static void check_text(const char *s)
{
	if (s)
		FUZZ_CHECK(utf8_is_text(s, strlen(s)));
}

/* "%...%" with every \, % and _ of the middle escaped. */
static void check_like(const char *s)
{
	size_t n, i;

	if (!s)
		return;
	check_text(s);
	n = strlen(s);
	FUZZ_CHECK(n >= 2 && s[0] == '%' && s[n - 1] == '%');
	for (i = 1; i < n - 1; i++) {
		if (s[i] == '\\') {
			FUZZ_CHECK(i + 1 < n - 1 && strchr("\\%_", s[i + 1]));
			i++;
		} else {
			FUZZ_CHECK(s[i] != '%' && s[i] != '_');
		}
	}
}

/* The exact-match filters, as the API contract names them. */
static const char *const exact_names[] = { "instance", "user", "end_user", "session", "tag" };
#define N_EXACT (sizeof(exact_names) / sizeof(exact_names[0]))

static const char *const group_names[] = {
	"model", "instance", "user", "end_user", "session", "tag", "key", "status", "path"
};
#define N_GROUPS (sizeof(group_names) / sizeof(group_names[0]))

/* The filter field of exact_names[i]. */
static const char *exact_value(const struct filters *f, size_t i)
{
	const char *v[N_EXACT] = { f->instance, f->user, f->end_user, f->session, f->tag };

	return v[i];
}

/* What the exact filter name must hold: NULL when absent or empty, else
 * the value as given. */
static void check_exact(const struct qstring *qs, const char *name, const char *v)
{
	const struct qparam *q = qs_get(qs, name);

	if (!q || !q->len) {
		FUZZ_CHECK(v == NULL);
		return;
	}
	FUZZ_CHECK(v != NULL && strlen(v) == q->len && !memcmp(v, q->value, q->len));
}

/* A value filters_parse must refuse: too long, not UTF-8, or holding NUL. */
static bool exact_bad(const struct qstring *qs, const char *name)
{
	const struct qparam *q = qs_get(qs, name);

	return q && q->len && (q->len > QUERY_VALUE_MAX || !utf8_is_text(q->value, q->len));
}

/* err starts with "NAME:" for a parameter NAME that qs holds. */
static bool names_param(const struct qstring *qs, const char *err)
{
	int i;
	size_t n;

	for (i = 0; i < qs->n; i++) {
		n = strlen(qs->p[i].name);
		if (n && !strncmp(err, qs->p[i].name, n) && err[n] == ':')
			return true;
	}
	return false;
}

static void check_filters(const struct filters *f)
{
	size_t i, n;

	check_text(f->search);
	check_text(f->model);
	for (i = 0; i < N_EXACT; i++)
		check_text(exact_value(f, i));
	check_like(f->search_like);
	check_like(f->path_like);
	if (f->search) {
		n = strlen(f->search);
		FUZZ_CHECK(n > 0 && n <= QUERY_SEARCH_MAX);
		FUZZ_CHECK(!isspace((unsigned char)f->search[0]) &&
			   !isspace((unsigned char)f->search[n - 1]));
		FUZZ_CHECK(!f->search_like == (n < 3));
	}
	if (f->search_method)
		FUZZ_CHECK(f->search && !strcasecmp(f->search, f->search_method));
	for (i = 0; f->method && f->method[i]; i++)
		FUZZ_CHECK(isupper((unsigned char)f->method[i]));
	for (i = 0; f->key && f->key[i]; i++)
		FUZZ_CHECK(isdigit((unsigned char)f->key[i]) ||
			   (f->key[i] >= 'a' && f->key[i] <= 'f'));
	FUZZ_CHECK(f->status_lo <= f->status_hi);
	FUZZ_CHECK(f->status_lo == 0 || (f->status_lo >= 100 && f->status_hi <= 999));
	FUZZ_CHECK(f->streamed >= -1 && f->streamed <= 1);
	if (f->has_from && f->has_to)
		FUZZ_CHECK(f->from_us < f->to_us);
}

static void check_filters_parse(const struct qstring *qs)
{
	struct filters f;
	char err[256];
	size_t i;
	bool bad = false;

	err[0] = '\0';
	for (i = 0; i < N_EXACT; i++)
		bad = bad || exact_bad(qs, exact_names[i]);
	if (filters_parse(qs, &f, err, sizeof(err)) == 0) {
		FUZZ_CHECK(!bad);
		check_filters(&f);
		for (i = 0; i < N_EXACT; i++) {
			check_exact(qs, exact_names[i], exact_value(&f, i));
			if (exact_value(&f, i))
				FUZZ_CHECK(filters_any(&f));
		}
	} else {
		FUZZ_CHECK(err[0] != '\0');
		if (!names_param(qs, err))
			fprintf(stderr, "refusal names no parameter given: %s\n", err);
		FUZZ_CHECK(names_param(qs, err));
	}
	filters_release(&f);
}

/* group_by: absent or empty is none, one of the names is that grouping,
 * anything else is refused with a message naming group_by. */
static void check_group_by(const struct qstring *qs)
{
	const struct qparam *q = qs_get(qs, "group_by");
	enum group_by g = GROUP_MODEL;
	char err[256];
	size_t i;
	int want = -1;

	err[0] = '\0';
	for (i = 0; q && i < N_GROUPS; i++)
		if (q->len == strlen(group_names[i]) && !memcmp(q->value, group_names[i], q->len))
			want = (int)i;
	if (group_by_parse(qs, &g, err, sizeof(err)) == 0) {
		FUZZ_CHECK(want >= 0 || !q || !q->len);
		if (want >= 0)
			FUZZ_CHECK(g != GROUP_NONE && !strcmp(group_by_name(g), group_names[want]));
		else
			FUZZ_CHECK(g == GROUP_NONE && group_by_name(g) == NULL);
	} else {
		FUZZ_CHECK(want < 0 && q && q->len);
		FUZZ_CHECK(!strncmp(err, "group_by:", 9));
	}
}

static void check_list_params(const struct qstring *qs)
{
	struct list_params lp;
	char err[256], token[CURSOR_LEN + 1];
	const struct qparam *c;

	err[0] = '\0';
	if (list_params_parse(qs, 20, &lp, err, sizeof(err)) < 0) {
		FUZZ_CHECK(err[0] != '\0' && names_param(qs, err));
	} else {
		check_filters(&lp.f);
		FUZZ_CHECK(lp.page >= 1 && lp.page <= QUERY_PAGE_MAX);
		FUZZ_CHECK(lp.page_size >= 1 && lp.page_size <= QUERY_PAGE_SIZE_MAX);
		if (lp.has_cursor) {
			c = qs_get(qs, "cursor");
			FUZZ_CHECK(c != NULL);
			cursor_encode(&lp.cursor, token);
			FUZZ_CHECK(!strcmp(token, c->value));
		}
	}
	list_params_release(&lp);
}

static bool uuid_ref(const char *s)
{
	size_t i;

	if (strlen(s) != UUID_STR_LEN)
		return false;
	for (i = 0; i < UUID_STR_LEN; i++)
		if (i == 8 || i == 13 || i == 18 || i == 23 ? s[i] != '-' :
		    !isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

static void check_time(const char *s)
{
	int64_t us;
	size_t digits = strspn(s, "0123456789");

	if (time_parse(s, &us) < 0)
		return;
	FUZZ_CHECK(*s != '\0');
	if (!s[digits])
		FUZZ_CHECK(digits <= 15 && us == strtoll(s, NULL, 10) * 1000);
	else
		FUZZ_CHECK(us >= ISO_MIN_US && us <= ISO_MAX_US);
}

static void check_cursor(const char *s)
{
	struct cursor c;
	char token[CURSOR_LEN + 1];

	if (cursor_decode(s, &c) < 0)
		return;
	FUZZ_CHECK(strlen(s) == CURSOR_LEN);
	FUZZ_CHECK(c.us >= 0);
	FUZZ_CHECK(uuid_valid(c.id));
	cursor_encode(&c, token);
	FUZZ_CHECK(!strcmp(token, s));
}

/* encode then decode: the same position, for a made-up one. */
static void check_cursor_roundtrip(uint64_t *rng)
{
	struct cursor c, back;
	char token[CURSOR_LEN + 1];
	uint64_t a = fuzz_next(rng), b = fuzz_next(rng);

	c.us = (int64_t)(fuzz_next(rng) >> 1);
	snprintf(c.id, sizeof(c.id), "%08x-%04x-%04x-%04x-%012llx",
		 (unsigned)(a >> 32), (unsigned)(a >> 16) & 0xffff, (unsigned)a & 0xffff,
		 (unsigned)(b >> 48), (unsigned long long)(b & 0xffffffffffffULL));
	cursor_encode(&c, token);
	FUZZ_CHECK(strlen(token) == CURSOR_LEN);
	FUZZ_CHECK(cursor_decode(token, &back) == 0);
	FUZZ_CHECK(back.us == c.us && !strcmp(back.id, c.id));
}

static void check_id(const char *s)
{
	int64_t ms = uuid_v7_time(s);

	FUZZ_CHECK(!!uuid_valid(s) == uuid_ref(s));
	if (uuid_ref(s) && s[14] == '7')
		FUZZ_CHECK(ms >= 0 && ms < (1LL << 48));
	else
		FUZZ_CHECK(ms == -1);
}

/* What hostcheck.h promises: a loopback name, then nothing or a port. A
 * foreign name that merely starts like one ("localhost.evil.example",
 * "127.0.0.1.nip.io") must never pass. */
static void check_host(const char *s)
{
	size_t n = strcspn(s, ":"), i;
	bool want;

	if (s[0] == '[') {
		want = !strncmp(s, "[::1]", 5) && (s[5] == '\0' || s[5] == ':');
	} else {
		want = (n == 9 && !strncasecmp(s, "localhost", 9)) ||
		       (n == 10 && !strncasecmp(s, "localhost.", 10));
		if (n >= 4 && n < 256 && !strncmp(s, "127.", 4)) {
			want = true;
			for (i = 4; i < n; i++)
				want = want && (isdigit((unsigned char)s[i]) || s[i] == '.');
		}
	}
	FUZZ_CHECK(host_is_loopback(s) == want);
	if (addr_is_loopback(s))
		FUZZ_CHECK(!strcmp(s, "localhost") || !strncmp(s, "127.", 4) ||
			   !strcmp(s, "::1") || !strcmp(s, "[::1]"));
}

static void check_value(const char *s)
{
	check_time(s);
	check_cursor(s);
	check_id(s);
	check_host(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t rng = fuzz_hash(data, size);
	char *raw = strndup((const char *)data, size), err[256];
	struct qstring qs;
	const struct qparam *last;
	int i, rc;

	FUZZ_CHECK(raw != NULL);
	err[0] = '\0';
	rc = qs_parse(&qs, raw, err, sizeof(err));
	FUZZ_CHECK(rc == 0 || err[0] != '\0');
	FUZZ_CHECK(qs.n >= 0 && qs.n <= QUERY_MAX_PARAMS);
	for (i = 0; i < qs.n; i++) {
		FUZZ_CHECK(qs.p[i].name && qs.p[i].value);
		FUZZ_CHECK(qs.p[i].value[qs.p[i].len] == '\0');
		FUZZ_CHECK(qs.p[i].len <= strlen(raw));
		last = qs_get(&qs, qs.p[i].name);
		FUZZ_CHECK(last >= &qs.p[i] && !strcmp(last->name, qs.p[i].name));
		check_value(qs.p[i].value);
	}
	if (rc == 0) {
		check_filters_parse(&qs);
		check_group_by(&qs);
		check_list_params(&qs);
	}
	qs_release(&qs);
	check_value(raw);
	check_cursor_roundtrip(&rng);
	free(raw);
	return 0;
}
