/* query.h - what a dashboard URL asks for: query string, filters, paging.
 *
 * Every parameter is checked here and turned into typed values that later
 * become SQL parameters, never SQL text. A bad value yields -1 and a message
 * naming the parameter, for a 400 answer. Strings handed out are valid UTF-8
 * without NUL bytes. */
#ifndef QUERY_H
#define QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "uuid.h"

#define QUERY_MAX_PARAMS 64
#define QUERY_SEARCH_MAX 1000     /* bytes of a search string */
#define QUERY_VALUE_MAX 2048      /* bytes of any other value */
#define QUERY_PAGE_MAX 1000000
#define QUERY_PAGE_SIZE_MAX 500
#define CURSOR_LEN 32             /* base64url of 24 bytes */

struct qparam {
	char *name;
	char *value;
	size_t len;       /* of value, which may hold a NUL from %00 */
};

struct qstring {
	struct qparam p[QUERY_MAX_PARAMS];
	int n;
};

/* Splits and %-decodes a raw query string ("a=1&b=x+y"; may be NULL or "").
 * -1 with a message on a bad %-escape or more than QUERY_MAX_PARAMS
 * parameters. Release qs in either case. */
int qs_parse(struct qstring *qs, const char *raw, char *err, size_t errlen);
/* The last value given for name, or NULL. */
const struct qparam *qs_get(const struct qstring *qs, const char *name);
void qs_release(struct qstring *qs);

/* A position in the newest-first order: (started_at, id). */
struct cursor {
	int64_t us;                       /* started_at, microseconds since 1970 */
	char id[UUID_STR_LEN + 1];
};

/* Writes the opaque token of c (CURSOR_LEN chars and a NUL). */
void cursor_encode(const struct cursor *c, char out[CURSOR_LEN + 1]);
/* 0 and c filled, or -1 if s is not a token cursor_encode wrote. */
int cursor_decode(const char *s, struct cursor *c);

/* Reads an instant: Unix milliseconds (digits) or ISO 8601
 * ("2025-01-31", "2025-01-31T12:00", "…:05.25Z", "…+08:00"; no zone = UTC).
 * 0 and *us set, or -1. */
int time_parse(const char *s, int64_t *us);

struct filters {
	char *search;             /* as typed, trimmed; NULL = no search */
	char *search_like;        /* ILIKE pattern for path/id substrings; NULL if search < 3 bytes */
	const char *search_method;/* "POST" etc. when search names a method */
	char *model;
	int status_lo, status_hi; /* inclusive range; 0 = any */
	bool failed;              /* status=error: 4xx/5xx or not completed */
	char *method;             /* upper case */
	char *path_like;          /* ILIKE pattern from path= */
	int streamed;             /* -1 any, 0 or 1 */
	char *key;                /* key fingerprint, lower-case hex */
	const char *outcome;      /* one of the outcome names */
	char *instance;           /* proxy instance (INSTANCE_NAME), exact */
	char *user;               /* X-Capture-User, exact */
	char *end_user;           /* the request body's "user", exact */
	char *session;            /* X-Capture-Session, exact */
	char *tag;                /* one of the X-Capture-Tags, exact */
	bool has_from, has_to;
	int64_t from_us, to_us;   /* started_at >= from, < to */
};

/* Reads search, model, status, method, path, streamed, key, outcome,
 * instance, user, end_user, session, tag, from, to. -1 with a message naming
 * the parameter. Release f in either case. */
int filters_parse(const struct qstring *qs, struct filters *f, char *err, size_t errlen);
/* true if any filter (other than nothing) is set. */
bool filters_any(const struct filters *f);
void filters_release(struct filters *f);

/* What /api/stats?group_by= splits the statistics by. */
enum group_by {
	GROUP_NONE, GROUP_MODEL, GROUP_INSTANCE, GROUP_USER, GROUP_END_USER, GROUP_SESSION,
	GROUP_TAG, GROUP_KEY, GROUP_STATUS, GROUP_PATH
};

/* Reads group_by: GROUP_NONE when absent or empty; -1 with a message listing
 * the names for any other value. */
int group_by_parse(const struct qstring *qs, enum group_by *g, char *err, size_t errlen);
/* The parameter value naming g ("model", ...); NULL for GROUP_NONE. */
const char *group_by_name(enum group_by g);

struct list_params {
	struct filters f;
	long page;                /* 1-based */
	int page_size;
	bool has_cursor;
	struct cursor cursor;     /* rows strictly older than this */
};

/* Filters plus page, page_size (default_size when absent) and cursor. */
int list_params_parse(const struct qstring *qs, int default_size,
		      struct list_params *lp, char *err, size_t errlen);
void list_params_release(struct list_params *lp);

/* Appends s as an ILIKE pattern matching it anywhere: "%" + s with \, % and _
 * escaped + "%". Returns a malloc'd string. */
char *query_like_pattern(const char *s);

#endif
