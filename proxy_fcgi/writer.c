/* writer.c - capture queue and the batching PostgreSQL writer thread. */
#include <errno.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "spool.h"
#include "log.h"
#include "writer.h"
#include "xalloc.h"
#include "banned.h"

#define BATCH_ROWS 256
#define BATCH_BYTES (16L * 1024 * 1024)
#define NPARAMS 41

static const char insert_sql[] =
	"INSERT INTO captures (id, started_at, instance, client_addr, method, path, query,"
	" request_headers, request_content_type, request_body, request_body_bin,"
	" request_body_size, request_body_truncated, status, response_headers,"
	" response_content_type, response_body, response_body_bin, response_body_size,"
	" response_body_truncated, streamed, sse_events, reply_text, model,"
	" prompt_tokens, completion_tokens, total_tokens, cached_tokens, reasoning_tokens,"
	" finish_reason, outcome, error, ttfb_ms, duration_ms, key_hint, key_fingerprint,"
	" search_text, capture_user, capture_session, capture_tags, end_user)"
	" VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11, $12, $13, $14,"
	" $15::jsonb, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28,"
	" $29, $30, $31, $32, $33, $34, $35, $36, $37, $38, $39, $40::text[], $41)"
	" ON CONFLICT DO NOTHING";

/* Text forms of a row's numbers; lives as long as the row's parameters. */
struct row_text {
	char started[64], req_size[24], resp_size[24], status[16], events[24];
	char tokens[5][24], ttfb[32], duration[32];
};

struct writer {
	const struct config *cfg;
	pthread_t tid;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct capture *head, *tail;  /* oldest first */
	long queued;
	long dropped;
	int stopping;
	bool spool_pending;           /* files wait in the spool */
	long replayed;                /* captures replayed since the spool was last empty */
	PGconn *db;
	time_t next_connect;          /* no reconnect attempt before this */
	int backoff_s;
	struct spool_row rows[BATCH_ROWS];
	struct row_text texts[BATCH_ROWS];
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
	if (w->head)
		w->tail->next = c;
	else
		w->head = c;
	w->tail = c;
	w->queued++;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	if (drop) {
		log_error("capture queue full (CAPTURE_QUEUE_MAX=%d): capture %s dropped",
			  w->cfg->capture_queue_max, drop->id);
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

static void format_time(int64_t us, char out[64])
{
	time_t secs = (time_t)(us / 1000000);
	struct tm tm;

	gmtime_r(&secs, &tm);
	snprintf(out, 64, "%04d-%02d-%02d %02d:%02d:%02d.%06d+00", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (int)(us % 1000000));
}

static const char *num(char *out, size_t n, long v)
{
	if (v < 0)
		return NULL;
	snprintf(out, n, "%ld", v);
	return out;
}

/* Text goes to the text column; anything else as bytes to the bytea one. */
static void body_params(const struct buf *b, bool text, struct spool_row *r, int at)
{
	r->vals[at] = text ? (b->data ? b->data : "") : NULL;
	r->vals[at + 1] = text ? NULL : b->data;
	r->lens[at + 1] = text ? 0 : (int)b->len;
	r->fmts[at + 1] = 1;
	if (!b->total)
		r->vals[at] = r->vals[at + 1] = NULL;
}

/* The insert's parameters for c; text forms of numbers go into t. */
static void fill_row(const struct capture *c, struct row_text *t, struct spool_row *r)
{
	const struct usage *u = &c->usage;
	const char **v = r->vals;

	memset(r, 0, sizeof(*r));
	r->n = NPARAMS;
	format_time(c->started_us, t->started);
	snprintf(t->req_size, sizeof(t->req_size), "%zu", c->req_body.total);
	snprintf(t->resp_size, sizeof(t->resp_size), "%zu", c->resp_body.total);
	v[0] = c->id; v[1] = t->started; v[2] = c->instance; v[3] = c->client_addr;
	v[4] = c->method; v[5] = c->path; v[6] = c->query;
	v[7] = c->req_headers_json.data ? c->req_headers_json.data : "[]";
	v[8] = c->req_content_type;
	body_params(&c->req_body, c->req_body_text, r, 9);
	v[11] = t->req_size; v[12] = c->req_body.truncated ? "t" : "f";
	v[13] = c->status ? num(t->status, sizeof(t->status), c->status) : NULL;
	v[14] = c->resp_headers_json.data ? c->resp_headers_json.data : "[]";
	v[15] = c->resp_content_type;
	body_params(&c->resp_body, c->resp_body_text, r, 16);
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
	if (c->ttfb_ms >= 0) {
		snprintf(t->ttfb, sizeof(t->ttfb), "%.3f", c->ttfb_ms);
		v[32] = t->ttfb;
	}
	snprintf(t->duration, sizeof(t->duration), "%.3f", c->duration_ms);
	v[33] = t->duration;
	v[34] = c->has_key ? c->key_hint : NULL;
	v[35] = c->has_key ? c->key_fingerprint : NULL;
	v[36] = c->search_text;
	v[37] = c->user;
	v[38] = c->session;
	v[39] = c->tags;
	v[40] = u->end_user;
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

/* Inserts rows[0..n) in one transaction (one Sync). Returns 0, 1 if a row
 * was refused (none written), -1 if the connection failed. */
static int insert_rows(PGconn *db, const struct spool_row *rows, int n)
{
	int i, rc = 0;

	if (!PQenterPipelineMode(db))
		return -1;
	for (i = 0; i < n && !rc; i++)
		if (!PQsendQueryPrepared(db, "insert_capture", rows[i].n, rows[i].vals,
					 rows[i].lens, rows[i].fmts, 0))
			rc = -1;
	if (!rc && !PQpipelineSync(db))
		rc = -1;
	if (!rc)
		rc = read_results(db, n);
	PQexitPipelineMode(db);
	if (rc < 0 || PQstatus(db) != CONNECTION_OK)
		return -1;
	return rc ? 1 : 0;
}

/* true if there is a connection, making one when the backoff allows. */
static bool db_ready(struct writer *w)
{
	PGresult *res;

	if (w->db && PQstatus(w->db) == CONNECTION_OK)
		return true;
	if (time(NULL) < w->next_connect)
		return false;
	PQfinish(w->db);
	w->db = db_connect(w->cfg->database_url, "capture-proxy writer", 5);
	if (w->db) {
		res = PQprepare(w->db, "insert_capture", insert_sql, NPARAMS, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			db_log_error("prepare insert", w->db, res);
			PQfinish(w->db);
			w->db = NULL;
		}
		PQclear(res);
	}
	if (!w->db) {
		w->backoff_s = w->backoff_s ? (w->backoff_s < 8 ? w->backoff_s * 2 : 10) : 1;
		w->next_connect = time(NULL) + w->backoff_s;
		return false;
	}
	w->backoff_s = 0;
	log_info("writer connected to the database");
	return true;
}

/* Writes rows; a row the database refuses is retried alone so it cannot
 * take the others down with it. Returns -1 if the database is unreachable. */
static int write_rows(struct writer *w, const struct spool_row *rows, int n)
{
	int rc = insert_rows(w->db, rows, n), i;

	if (rc == 1 && n > 1) {
		for (i = 0; i < n && rc >= 0; i++)
			rc = write_rows(w, rows + i, 1);
		return rc < 0 ? -1 : 0;
	}
	if (rc == 1)
		log_error("capture %s refused by the database: not stored", rows[0].vals[0]);
	return rc < 0 ? -1 : 0;
}

/* Saves rows in a spool file; on failure they are lost, and the log says so. */
static void spool_rows(struct writer *w, const struct spool_row *rows, int n)
{
	struct buf data;
	int i;

	buf_init(&data, BUF_NO_CAP);
	for (i = 0; i < n; i++)
		spool_encode(&data, &rows[i]);
	if (spool_save(w->cfg->spool_dir, &data, w->cfg->spool_max) == 0) {
		if (!w->spool_pending)
			log_warn("database unavailable or behind: spooling captures to %s",
				 w->cfg->spool_dir);
		w->spool_pending = true;
	} else {
		for (i = 0; i < n; i++)
			log_error("capture %s lost: neither the database nor the spool took it",
				  rows[i].vals[0]);
	}
	buf_release(&data);
}

/* Sends a batch to the database, or to the spool when the database is away
 * or the queue is backing up behind it. */
static void store_batch(struct writer *w, struct capture **v, int n, long backlog)
{
	int i;

	for (i = 0; i < n; i++)
		fill_row(v[i], &w->texts[i], &w->rows[i]);
	if (backlog > w->cfg->capture_queue_max / 2 || !db_ready(w) ||
	    write_rows(w, w->rows, n) < 0)
		spool_rows(w, w->rows, n);
	for (i = 0; i < n; i++)
		capture_free(v[i]);
}

struct replay {
	struct writer *w;
	int n;
	long done;
};

static int replay_flush(struct replay *r)
{
	int rc = r->n ? write_rows(r->w, r->w->rows, r->n) : 0;

	if (rc == 0)
		r->done += r->n;
	r->n = 0;
	return rc;
}

static int replay_row(void *ctx, const struct spool_row *row)
{
	struct replay *r = ctx;

	r->w->rows[r->n++] = *row;
	return r->n == BATCH_ROWS ? replay_flush(r) : 0;
}

/* Replays the oldest spool file; it is removed once all its rows are in. */
static void replay_one(struct writer *w)
{
	struct replay r = { w, 0, 0 };
	char *path = spool_oldest(w->cfg->spool_dir);
	struct buf data;
	int rc;

	if (!path) {
		w->spool_pending = false;
		if (w->replayed)
			log_info("spool replayed: %ld captures are in the database now", w->replayed);
		w->replayed = 0;
		return;
	}
	buf_init(&data, BUF_NO_CAP);
	rc = spool_read(path, &data, replay_row, &r);
	if (rc == 0)
		rc = replay_flush(&r);
	if (rc == 0) {
		unlink(path);
		log_debug("replayed %ld spooled captures from %s", r.done, path);
		w->replayed += r.done;
	} else if (PQstatus(w->db) == CONNECTION_OK) {
		char bad[4200];

		snprintf(bad, sizeof(bad), "%s.bad", path);
		rename(path, bad);
		log_error("spool file %s is damaged: kept as %s", path, bad);
	}
	buf_release(&data);
	free(path);
}

/* Waits for captures, or up to a second when spooled ones wait for replay. */
static void wait_for_work(struct writer *w)
{
	struct timespec until;

	if (w->head || w->stopping)
		return;
	if (!w->spool_pending) {
		pthread_cond_wait(&w->wake, &w->lock);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 1;
	pthread_cond_timedwait(&w->wake, &w->lock, &until);
}

static bool queue_waiting(struct writer *w)
{
	bool waiting;

	pthread_mutex_lock(&w->lock);
	waiting = w->head != NULL;
	pthread_mutex_unlock(&w->lock);
	return waiting;
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	struct capture *v[BATCH_ROWS];
	long backlog;
	int n, stop;

	/* connect now: a wrong DATABASE_URL shows in the log at start */
	db_ready(w);
	w->spool_pending = true; /* files left by an earlier run are replayed first */
	for (;;) {
		pthread_mutex_lock(&w->lock);
		wait_for_work(w);
		n = take_batch(w, v);
		backlog = w->queued;
		stop = w->stopping;
		pthread_mutex_unlock(&w->lock);
		if (n)
			store_batch(w, v, n, stop ? 0 : backlog);
		else if (stop)
			break;
		/* replay between batches, giving way as soon as new ones wait */
		while (w->spool_pending && !stop && !queue_waiting(w) && db_ready(w))
			replay_one(w);
	}
	return NULL;
}

struct writer *writer_start(const struct config *cfg)
{
	struct writer *w = xcalloc(1, sizeof(*w));

	w->cfg = cfg;
	if (spool_init(cfg->spool_dir) < 0)
		log_error("cannot create spool directory %s: %s", cfg->spool_dir, strerror(errno));
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	if (pthread_create(&w->tid, NULL, writer_main, w)) {
		log_error("cannot start the writer thread: %s", strerror(errno));
		abort();
	}
	return w;
}

void writer_stop(struct writer *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = 1;
	pthread_cond_broadcast(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->tid, NULL);
	if (w->dropped)
		log_error("%ld captures were dropped while the queue was full", w->dropped);
	PQfinish(w->db);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->wake);
	free(w);
}
