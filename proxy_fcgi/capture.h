/* capture.h - the record of one proxied call, as it goes to the captures table.
 *
 * Filled by forward.c while the call runs (only appends into capped buffers
 * on that path), completed by capture_finish() after the client has its
 * response, then owned by the writer queue, which frees it. */
#ifndef CAPTURE_H
#define CAPTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "keymask.h"
#include "sse.h"
#include "usage.h"
#include "uuid.h"

enum outcome {
	OUTCOME_COMPLETED,
	OUTCOME_UPSTREAM_ERROR,
	OUTCOME_UNREACHABLE,
	OUTCOME_TIMEOUT,
	OUTCOME_CLIENT_ABORTED,
	OUTCOME_REJECTED,
	OUTCOME_PROXY_ERROR,
};

/* Bytes kept from the end of a stream whose head was cut at the cap, so the
 * final usage event is still read. */
#define CAPTURE_TAIL_MAX (64 * 1024)

struct capture {
	struct capture *next;        /* writer queue link */
	char id[UUID_STR_LEN + 1];
	int64_t started_us;          /* unix time, microseconds */
	double ttfb_ms;              /* < 0: no response byte came */
	double duration_ms;
	char *instance;
	char *client_addr;
	char *method;
	char *path;
	char *query;                 /* NULL if none; key parameters masked */
	struct buf req_headers;      /* "Name: value\n" lines, keys masked */
	char *req_content_type;
	struct buf req_body;
	int status;                  /* what the client got; 0 if nothing */
	struct buf resp_headers;     /* "Name: value\n" lines */
	char *resp_content_type;
	struct buf resp_body;
	struct buf resp_tail;        /* last bytes of a cut stream */
	bool streamed;
	long sse_events;             /* -1 when not streamed */
	struct sse_parser sse;       /* the stream read so far (capture_read_events) */
	size_t sse_fed;              /* bytes of resp_body it has read */
	bool sse_on;
	struct usage usage;
	enum outcome outcome;
	char *error;                 /* NULL when completed */
	bool has_key;
	char key_hint[KEY_HINT_MAX];
	char key_fingerprint[KEY_FINGERPRINT_LEN + 1];
	char *user;                  /* X-Capture-User */
	char *session;               /* X-Capture-Session */
	char *tags;                  /* X-Capture-Tags as a PostgreSQL array literal */
	/* set by capture_finish: */
	char *search_text;
	struct buf req_headers_json; /* [[name, value], ...] */
	struct buf resp_headers_json;
	long journal_epoch;          /* journal epoch holding it; -1 if none */
	bool req_body_text;          /* body is valid UTF-8 without NUL */
	bool resp_body_text;
};

/* Allocates a capture with a fresh id for now; body buffers capped at body_max. */
struct capture *capture_new(size_t body_max);
/* Frees c and everything it holds; NULL is fine. */
void capture_free(struct capture *c);
/* Appends response bytes: the head up to the cap and, once a stream passes
 * the cap, its last CAPTURE_TAIL_MAX bytes too (they hold the final usage). */
void capture_add_response(struct capture *c, const char *p, size_t len);
/* Reads the events a stream's new bytes complete (usage, reply). Called
 * after each piece is passed on, it spreads over the stream work that would
 * otherwise come all at once at its end, when other streams' events wait. */
void capture_read_events(struct capture *c);
const char *capture_outcome_name(enum outcome o);
/* Records an X-Capture-User, -Session or -Tags header (others are ignored);
 * tags are split on commas and trimmed. */
void capture_set_attribution(struct capture *c, const char *name, const char *value);
/* Records the error text (formatted) once; later calls keep the first. */
void capture_set_error(struct capture *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Works out what the call meant (usage, reply, model), the search text, the
 * header JSON and whether bodies are text. Runs after the response, off the
 * client's clock. */
void capture_finish(struct capture *c);
/* Appends the "Name: value\n" lines as a JSON array of [name, value] pairs,
 * valid UTF-8 without NUL, to out. */
void capture_headers_json(const struct buf *lines, struct buf *out);
/* Microseconds since the epoch, from the realtime clock. */
int64_t capture_now_us(void);

#endif
