/* writer.c - capture queue and the batching PostgreSQL writer thread. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "log.h"
#include "writer.h"
#include "xalloc.h"
#include "banned.h"

#define BATCH_ROWS 256
#define BATCH_BYTES (16L * 1024 * 1024)
#define NPARAMS 37

static const char insert_sql[] =
	"INSERT INTO captures (id, started_at, instance, client_addr, method, path, query,"
	" request_headers, request_content_type, request_body, request_body_bin,"
	" request_body_size, request_body_truncated, status, response_headers,"
	" response_content_type, response_body, response_body_bin, response_body_size,"
	" response_body_truncated, streamed, sse_events, reply_text, model,"
	" prompt_tokens, completion_tokens, total_tokens, cached_tokens, reasoning_tokens,"
	" finish_reason, outcome, error, ttfb_ms, duration_ms, key_hint, key_fingerprint,"
	" search_text)"
	" VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11, $12, $13, $14,"
	" $15::jsonb, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28,"
	" $29, $30, $31, $32, $33, $34, $35, $36, $37)"
	" ON CONFLICT DO NOTHING";

struct writer {
	const struct config *cfg;
	pthread_t tid;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct capture *head, *tail;  /* oldest first */
	long queued;
	long dropped;
	int stopping;                 /* 1: drain then exit */
	time_t drain_deadline;
	PGconn *db;
};

void writer_push(struct writer *w, struct capture *c)
{
	struct capture *drop = NULL;

	c->next = NULL;
	pthread_mutex_lock(&w->lock);
	if (w->queued >= w->cfg->capture_queue_max) {
		drop = w->head;
		w->head = drop->next;
		w->queued--;
		w->dropped++;
	}
	if (w->tail && w->head)
		w->tail->next = c;
	else
		w->head = c;
	w->tail = c;
	w->queued++;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	if (drop) {
		log_error("capture queue full (%d): capture %s dropped", w->cfg->capture_queue_max,
			  drop->id);
		capture_free(drop);
	}
}

/* Detaches up to BATCH_ROWS captures (and about BATCH_BYTES) from the queue. */
static int take_batch(struct writer *w, struct capture **v)
{
	long bytes = 0;
	int n = 0;

	while (w->head && n < BATCH_ROWS && bytes < BATCH_BYTES) {
		struct capture *c = w->head;

		w->head = c->next;
		if (!w->head)
			w->tail = NULL;
		w->queued--;
		bytes += (long)(c->req_body.len + c->resp_body.len);
		v[n++] = c;
	}
	return n;
}

/* Puts captures that could not be written back at the front, in order. */
static void requeue(struct writer *w, struct capture **v, int n)
{
	int i;

	pthread_mutex_lock(&w->lock);
	for (i = n - 1; i >= 0; i--) {
		v[i]->next = w->head;
		w->head = v[i];
		if (!w->tail)
			w->tail = v[i];
		w->queued++;
	}
	pthread_mutex_unlock(&w->lock);
}

static void format_time(int64_t us, char out[64])
{
	time_t secs = (time_t)(us / 1000000);
	struct tm tm;

	gmtime_r(&secs, &tm);
	snprintf(out, 64, "%04d-%02d-%02d %02d:%02d:%02d.%06d+00", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (int)(us % 1000000));
}

/* Text forms of a row's numbers; lives as long as the row's parameters. */
struct row_text {
	char started[64], req_size[24], resp_size[24], status[16], events[24];
	char tokens[5][24], ttfb[32], duration[32];
};

static const char *num(char *out, size_t n, long v)
{
	if (v < 0)
		return NULL;
	snprintf(out, n, "%ld", v);
	return out;
}

static void body_params(const struct buf *b, bool text, const char **vals,
			int *lens, int *fmts, int at)
{
	/* text goes to the text column, anything else as binary bytea */
	vals[at] = text ? (b->data ? b->data : "") : NULL;
	vals[at + 1] = text ? NULL : b->data;
	lens[at + 1] = text ? 0 : (int)b->len;
	fmts[at + 1] = 1;
	if (!b->total)
		vals[at] = vals[at + 1] = NULL;
}

static void row_params(const struct capture *c, struct row_text *t,
		       const char **v, int *lens, int *fmts)
{
	const struct usage *u = &c->usage;

	memset(lens, 0, NPARAMS * sizeof(*lens));
	memset(fmts, 0, NPARAMS * sizeof(*fmts));
	format_time(c->started_us, t->started);
	snprintf(t->req_size, sizeof(t->req_size), "%zu", c->req_body.total);
	snprintf(t->resp_size, sizeof(t->resp_size), "%zu", c->resp_body.total);
	v[0] = c->id; v[1] = t->started; v[2] = c->instance; v[3] = c->client_addr;
	v[4] = c->method; v[5] = c->path; v[6] = c->query;
	v[7] = c->req_headers_json.data ? c->req_headers_json.data : "[]";
	v[8] = c->req_content_type;
	body_params(&c->req_body, c->req_body_text, v, lens, fmts, 9);
	v[11] = t->req_size; v[12] = c->req_body.truncated ? "t" : "f";
	v[13] = c->status ? num(t->status, sizeof(t->status), c->status) : NULL;
	v[14] = c->resp_headers_json.data ? c->resp_headers_json.data : "[]";
	v[15] = c->resp_content_type;
	body_params(&c->resp_body, c->resp_body_text, v, lens, fmts, 16);
	v[18] = t->resp_size; v[19] = c->resp_body.truncated ? "t" : "f";
	v[20] = c->streamed ? "t" : "f";
	v[21] = num(t->events, sizeof(t->events), c->sse_events);
	v[22] = u->reply.len ? u->reply.data : NULL;
	v[23] = u->model;
	v[24] = num(t->tokens[0], 24, u->prompt_tokens);
	v[25] = num(t->tokens[1], 24, u->completion_tokens);
	v[26] = num(t->tokens[2], 24, u->total_tokens);
	v[27] = num(t->tokens[3], 24, u->cached_tokens);
	v[28] = num(t->tokens[4], 24, u->reasoning_tokens);
	v[29] = u->finish_reason;
	v[30] = capture_outcome_name(c->outcome);
	v[31] = c->error;
	v[32] = NULL;
	if (c->ttfb_ms >= 0) {
		snprintf(t->ttfb, sizeof(t->ttfb), "%.3f", c->ttfb_ms);
		v[32] = t->ttfb;
	}
	snprintf(t->duration, sizeof(t->duration), "%.3f", c->duration_ms);
	v[33] = t->duration;
	v[34] = c->has_key ? c->key_hint : NULL;
	v[35] = c->has_key ? c->key_fingerprint : NULL;
	v[36] = c->search_text;
}

static int send_row(PGconn *db, const struct capture *c)
{
	const char *vals[NPARAMS];
	int lens[NPARAMS], fmts[NPARAMS];
	struct row_text t;

	row_params(c, &t, vals, lens, fmts);
	return PQsendQueryPrepared(db, "insert_capture", NPARAMS, vals, lens, fmts, 0) ? 0 : -1;
}

/* Reads the results of n queued inserts and the sync. Returns the number of
 * failed statements, or -1 if the connection broke. */
static int read_results(PGconn *db, int n)
{
	int failed = 0, i;
	PGresult *res;

	for (i = 0; i < n; i++) {
		res = PQgetResult(db);
		if (!res)
			return -1;
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			if (PQresultStatus(res) != PGRES_PIPELINE_ABORTED)
				db_log_error("insert capture", db, res);
			failed++;
		}
		PQclear(res);
		while ((res = PQgetResult(db)) != NULL)
			PQclear(res);
	}
	res = PQgetResult(db);
	if (!res || PQresultStatus(res) != PGRES_PIPELINE_SYNC)
		failed = failed ? failed : -1;
	PQclear(res);
	return failed;
}

/* Inserts v[0..n) in one transaction. Returns 0, 1 if a row was refused
 * (none written), -1 if the connection failed. */
static int insert_batch(PGconn *db, struct capture **v, int n)
{
	int i, rc = 0;

	if (!PQenterPipelineMode(db))
		return -1;
	for (i = 0; i < n && !rc; i++)
		rc = send_row(db, v[i]);
	if (!rc && !PQpipelineSync(db))
		rc = -1;
	if (!rc)
		rc = read_results(db, n);
	PQexitPipelineMode(db);
	if (rc < 0 || PQstatus(db) != CONNECTION_OK)
		return -1;
	return rc ? 1 : 0;
}

static int connect_db(struct writer *w)
{
	PGresult *res;

	if (w->db && PQstatus(w->db) == CONNECTION_OK)
		return 0;
	PQfinish(w->db);
	w->db = db_connect(w->cfg->database_url, "capture-proxy writer", 5);
	if (!w->db)
		return -1;
	res = PQprepare(w->db, "insert_capture", insert_sql, NPARAMS, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		db_log_error("prepare insert", w->db, res);
		PQclear(res);
		PQfinish(w->db);
		w->db = NULL;
		return -1;
	}
	PQclear(res);
	log_info("writer connected to the database");
	return 0;
}

static void free_batch(struct capture **v, int n)
{
	int i;

	for (i = 0; i < n; i++)
		capture_free(v[i]);
}

/* Writes a batch; a row the database refuses is retried alone so it cannot
 * take the others down with it. Returns -1 if the database is unreachable
 * (the batch is requeued). */
static int write_batch(struct writer *w, struct capture **v, int n)
{
	int rc, i;

	if (connect_db(w) < 0) {
		requeue(w, v, n);
		return -1;
	}
	rc = insert_batch(w->db, v, n);
	if (rc == 1 && n > 1) {
		for (i = 0; i < n && rc >= 0; i++)
			rc = write_batch(w, v + i, 1);
		return rc < 0 ? -1 : 0;
	}
	if (rc < 0) {
		requeue(w, v, n);
		return -1;
	}
	if (rc == 1)
		log_error("capture %s refused by the database: not stored", v[0]->id);
	free_batch(v, n);
	return 0;
}

static bool give_up(struct writer *w)
{
	return w->stopping && time(NULL) >= w->drain_deadline;
}

static void backoff(struct writer *w, int *delay_ms)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += (long)*delay_ms * 1000000L;
	until.tv_sec += until.tv_nsec / 1000000000L;
	until.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&w->lock);
	if (!w->stopping)
		pthread_cond_timedwait(&w->wake, &w->lock, &until);
	pthread_mutex_unlock(&w->lock);
	if (*delay_ms < 5000)
		*delay_ms *= 2;
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	struct capture *v[BATCH_ROWS];
	int n, delay_ms = 100;

	/* connect now: a wrong DATABASE_URL shows in the log at start */
	connect_db(w);
	for (;;) {
		pthread_mutex_lock(&w->lock);
		while (!w->head && !w->stopping)
			pthread_cond_wait(&w->wake, &w->lock);
		n = take_batch(w, v);
		pthread_mutex_unlock(&w->lock);
		if (!n)
			break; /* stopping and drained */
		if (write_batch(w, v, n) == 0) {
			delay_ms = 100;
			continue;
		}
		if (give_up(w))
			break;
		backoff(w, &delay_ms);
	}
	return NULL;
}

struct writer *writer_start(const struct config *cfg)
{
	struct writer *w = xcalloc(1, sizeof(*w));

	w->cfg = cfg;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	if (pthread_create(&w->tid, NULL, writer_main, w)) {
		log_error("cannot start the writer thread: %s", strerror(errno));
		abort();
	}
	return w;
}

void writer_stop(struct writer *w, int drain_seconds)
{
	struct capture *c;
	long lost = 0;

	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = 1;
	w->drain_deadline = time(NULL) + drain_seconds;
	pthread_cond_broadcast(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->tid, NULL);
	while ((c = w->head) != NULL) {
		w->head = c->next;
		capture_free(c);
		lost++;
	}
	if (lost || w->dropped)
		log_error("%ld captures could not be written before exit, %ld dropped earlier",
			  lost, w->dropped);
	PQfinish(w->db);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->wake);
	free(w);
}
