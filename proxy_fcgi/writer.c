/* writer.c - capture queue and the batching PostgreSQL writer thread. */
#include <errno.h>
#include <malloc.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "row.h"
#include "rowcopy.h"
#include "spool.h"
#include "log.h"
#include "writer.h"
#include "xalloc.h"
#include "banned.h"

#define BATCH_ROWS 256
/* Captures per spool file when the queue is behind: one fsync each. With
 * 256 a disk busy with other work (fsync ~100 ms) fell behind the proxy and
 * the queue overflowed; more per file also means a bigger buffer (~5 KB a
 * capture), so not many more. */
#define SPOOL_BATCH_ROWS 1024
/* Rows per multi-row INSERT: one statement's executor start-up, partition
 * routing and generated-column set-up serve them all (one statement per
 * row spent ~15 % of the database's time there); 32 x 41 parameters stay
 * far below libpq's 65535. */
#define MULTI_ROWS 32
/* A backlog this deep is trimmed from the heap once it has drained; so are
 * this many bytes of big bodies (a body grows by doubling, and the steps
 * below the mmap threshold stay in the heap when freed). */
#define TRIM_BACKLOG 1000
#define TRIM_BIG_BODY (256L * 1024)
#define TRIM_BIG_FREED (4L * 1024 * 1024)
/* Seconds between journal epochs: old ones are deleted once done. */
#define JOURNAL_ROTATE_S 2
/* How long a worker waits for room in a full queue before it gives up on a
 * capture (left in the journal for the next start): only a writer that
 * takes nothing for this long, stuck in the database and the spool alike. */
#define QUEUE_WAIT_S 30
#define BATCH_BYTES (16L * 1024 * 1024)
struct writer {
	const struct config *cfg;
	struct journal *journal;
	time_t last_rotate;
	pthread_t tid;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_cond_t room;          /* the queue has room again */
	struct capture *head, *tail;  /* oldest first */
	long queued;
	long peak;                    /* most queued since memory was last trimmed */
	long big_freed;               /* bytes of big bodies freed since then (writer only) */
	long dropped;
	long taken;                   /* captures the writer has taken, ever */
	int stopping;
	bool spool_pending;           /* files wait in the spool */
	long replayed;                /* captures replayed since the spool was last empty */
	PGconn *db;
	time_t next_connect;          /* no reconnect attempt before this */
	int backoff_s;
	struct spool_row rows[BATCH_ROWS];
	struct spool_row small[BATCH_ROWS]; /* a batch's rows not sent by COPY */
	struct row_text texts[BATCH_ROWS];
};

/* Waits until the writer takes a batch out of a full queue, or QUEUE_WAIT_S.
 * The client already has its answer: a worker waiting here only leaves new
 * requests to the others, so the proxy slows down rather than lose captures. */
static void wait_for_room(struct writer *w)
{
	struct timespec until;
	long seen = w->taken;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += QUEUE_WAIT_S;
	while (w->queued >= w->cfg->capture_queue_max && !w->stopping) {
		if (pthread_cond_timedwait(&w->room, &w->lock, &until) != ETIMEDOUT)
			continue;
		/* others may have won the room freed meanwhile: give up only
		 * on a writer that took nothing in all that time */
		if (w->taken == seen)
			break;
		seen = w->taken;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += QUEUE_WAIT_S;
	}
}

void writer_push(struct writer *w, struct capture *c)
{
	struct capture *drop = NULL;

	c->next = NULL;
	pthread_mutex_lock(&w->lock);
	if (w->queued >= w->cfg->capture_queue_max)
		wait_for_room(w);
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
	if (w->queued > w->peak)
		w->peak = w->queued;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	if (drop) {
		log_error("capture queue full (CAPTURE_QUEUE_MAX=%d) for %d s: capture %s dropped "
			  "from memory (its journal keeps it for the next start)",
			  w->cfg->capture_queue_max, QUEUE_WAIT_S, drop->id);
		capture_free(drop);
	}
}

/* Detaches up to max captures (and about BATCH_BYTES) from the queue. */
static int take_batch(struct writer *w, struct capture **v, int max)
{
	long bytes = 0;
	int n = 0;

	while (w->head && n < max && bytes < BATCH_BYTES) {
		struct capture *c = w->head;

		w->head = c->next;
		if (!w->head)
			w->tail = NULL;
		w->queued--;
		bytes += (long)(c->req_body.len + c->resp_body.len);
		v[n++] = c;
	}
	if (n) {
		w->taken += n;
		pthread_cond_broadcast(&w->room);
	}
	return n;
}

/* Reads the results of n queued inserts and the sync. Returns the number of
 * failed statements, or -1 if the connection broke. */
static int read_results(PGconn *db, int n)
{
	int failed = 0, i;
	bool timeout = false;
	PGresult *res;

	for (i = 0; i < n; i++) {
		res = PQgetResult(db);
		if (!res)
			return -1;
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			if (PQresultStatus(res) != PGRES_PIPELINE_ABORTED)
				db_log_error("insert capture", db, res);
			if (db_timed_out(res))
				timeout = true;
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
	return timeout ? -1 : failed;
}

/* Sends rows[0..n) as one MULTI_ROWS-row INSERT. */
static int send_multi(PGconn *db, const struct spool_row *rows)
{
	const char *vals[MULTI_ROWS * ROW_NPARAMS];
	int lens[MULTI_ROWS * ROW_NPARAMS], fmts[MULTI_ROWS * ROW_NPARAMS];
	int r, at = 0;

	for (r = 0; r < MULTI_ROWS; r++) {
		memcpy(vals + at, rows[r].vals, sizeof(*vals) * ROW_NPARAMS);
		memcpy(lens + at, rows[r].lens, sizeof(*lens) * ROW_NPARAMS);
		memcpy(fmts + at, rows[r].fmts, sizeof(*fmts) * ROW_NPARAMS);
		at += ROW_NPARAMS;
	}
	return PQsendQueryPrepared(db, "insert_captures", at, vals, lens, fmts, 0) ? 0 : -1;
}

/* true if the MULTI_ROWS rows from rows[0] all have the current layout (a
 * spool file of an older version may hold other rows: they go alone). */
static bool multi_ok(const struct spool_row *rows, int left)
{
	int r;

	if (left < MULTI_ROWS)
		return false;
	for (r = 0; r < MULTI_ROWS; r++)
		if (rows[r].n != ROW_NPARAMS)
			return false;
	return true;
}

/* Inserts rows[0..n) in one transaction (one Sync): MULTI_ROWS at a time,
 * the rest one by one. Returns 0, 1 if a row was refused (none written), -1
 * if the connection failed. */
static int insert_rows(PGconn *db, const struct spool_row *rows, int n)
{
	int i = 0, sent = 0, rc = 0;

	if (!PQenterPipelineMode(db))
		return -1;
	while (i < n && !rc) {
		if (multi_ok(rows + i, n - i)) {
			rc = send_multi(db, rows + i);
			i += MULTI_ROWS;
		} else {
			if (!PQsendQueryPrepared(db, "insert_capture", rows[i].n, rows[i].vals,
						 rows[i].lens, rows[i].fmts, 0))
				rc = -1;
			i++;
		}
		sent++;
	}
	if (!rc && !PQpipelineSync(db))
		rc = -1;
	if (!rc)
		rc = read_results(db, sent);
	PQexitPipelineMode(db);
	if (rc < 0 || PQstatus(db) != CONNECTION_OK)
		return -1;
	return rc ? 1 : 0;
}

/* Inserts rows[0..n): the big ones by COPY (rowcopy.h), the rest as
 * parameters. Returns as insert_rows(), except that on 1 the small rows
 * may be in: retrying them is harmless (ON CONFLICT DO NOTHING). */
static int insert_split(struct writer *w, const struct spool_row *rows, int n)
{
	const struct spool_row *big[BATCH_ROWS];
	int nbig = 0, nsmall = 0, i, rc = 0;

	for (i = 0; i < n; i++) {
		if (rowcopy_wanted(&rows[i]))
			big[nbig++] = &rows[i];
		else
			w->small[nsmall++] = rows[i];
	}
	if (nsmall)
		rc = insert_rows(w->db, nsmall == n ? rows : w->small, nsmall);
	if (!nbig || rc != 0)
		return rc;
	rc = rowcopy_insert(w->db, big, nbig);
	/* COPY refused (no TEMP right, a full temp tablespace, or the data):
	 * the parameter INSERT needs neither, and tells bad data apart */
	if (rc == 1) {
		for (i = 0; i < nbig; i++)
			w->small[i] = *big[i];
		rc = insert_rows(w->db, w->small, nbig);
	}
	return rc;
}

/* Prepares the one-row and the MULTI_ROWS-row INSERT on a new connection. */
static bool prepare_inserts(PGconn *db)
{
	char *one = row_insert_sql(1), *multi = row_insert_sql(MULTI_ROWS);
	PGresult *res = PQprepare(db, "insert_capture", one, ROW_NPARAMS, NULL);
	bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	if (ok) {
		PQclear(res);
		res = PQprepare(db, "insert_captures", multi, MULTI_ROWS * ROW_NPARAMS, NULL);
		ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	}
	if (!ok)
		db_log_error("prepare insert", db, res);
	PQclear(res);
	free(one);
	free(multi);
	return ok;
}

/* Gives up the connection for a while: batches go to the spool meanwhile. */
static void db_drop(struct writer *w)
{
	PQfinish(w->db);
	w->db = NULL;
	w->backoff_s = w->backoff_s ? (w->backoff_s < 8 ? w->backoff_s * 2 : 10) : 1;
	w->next_connect = time(NULL) + w->backoff_s;
}

/* true if there is a connection, making one when the backoff allows. */
static bool db_ready(struct writer *w)
{
	if (w->db && PQstatus(w->db) == CONNECTION_OK)
		return true;
	if (time(NULL) < w->next_connect)
		return false;
	PQfinish(w->db);
	w->db = db_connect(w->cfg->database_url, "capture-proxy writer", 5);
	if (w->db) {
		/* a hung or locked database must not hold captures in memory:
		 * a batch that waits this long goes to the spool instead */
		PQclear(PQexec(w->db, "SET statement_timeout = '5s'; SET lock_timeout = '1s';"
				     " SET client_min_messages = warning"));
		if (!prepare_inserts(w->db)) {
			PQfinish(w->db);
			w->db = NULL;
		}
	}
	if (!w->db) {
		db_drop(w);
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
	int rc = insert_split(w, rows, n), i;

	if (rc == 1 && n > 1) {
		for (i = 0; i < n && rc >= 0; i++)
			rc = write_rows(w, rows + i, 1);
		return rc < 0 ? -1 : 0;
	}
	if (rc == 1)
		log_error("capture %s refused by the database: not stored", rows[0].vals[0]);
	if (rc < 0)
		db_drop(w);
	return rc < 0 ? -1 : 0;
}

/* Saves the captures v[0..n) in one spool file. Returns 0, or -1 when it
 * could not: they then live on only in the journal, which keeps them for
 * the next start. */
static int spool_captures(struct writer *w, struct capture **v, int n)
{
	struct buf data;
	int i, rc;

	buf_init(&data, BUF_NO_CAP);
	for (i = 0; i < n; i++) {
		row_fill(v[i], &w->texts[0], &w->rows[0]);
		spool_encode(&data, &w->rows[0]);
	}
	rc = spool_save(w->cfg->spool_dir, &data, w->cfg->spool_max);
	if (rc == 0) {
		if (!w->spool_pending)
			log_warn("database unavailable or behind: spooling captures to %s",
				 w->cfg->spool_dir);
		w->spool_pending = true;
	} else {
		for (i = 0; i < n; i++)
			log_error("capture %s not stored: neither the database nor the spool "
				  "took it (the journal keeps it for the next start)", v[i]->id);
	}
	buf_release(&data);
	return rc;
}

/* true when the queue is backing up behind the database: batches then go
 * to the spool, even while the database is there. */
static bool behind(const struct writer *w, long backlog)
{
	return backlog > w->cfg->capture_queue_max / 2;
}

/* Sends a batch to the database, or to the spool when the database is away
 * or the queue is backing up behind it. */
static void store_batch(struct writer *w, struct capture **v, int n, long backlog)
{
	int i, rc = -1;

	if (n <= BATCH_ROWS && !behind(w, backlog) && db_ready(w)) {
		for (i = 0; i < n; i++)
			row_fill(v[i], &w->texts[i], &w->rows[i]);
		rc = write_rows(w, w->rows, n);
	}
	if (rc < 0)
		rc = spool_captures(w, v, n);
	for (i = 0; i < n; i++) {
		if (rc == 0)
			journal_done(w->journal, v[i]);
		if (v[i]->req_body.alloc + v[i]->resp_body.alloc >= TRIM_BIG_BODY)
			w->big_freed += (long)(v[i]->req_body.alloc + v[i]->resp_body.alloc);
		capture_free(v[i]);
	}
	if (time(NULL) - w->last_rotate >= JOURNAL_ROTATE_S) {
		journal_rotate(w->journal);
		w->last_rotate = time(NULL);
	}
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
	if (rc == -1 && r.n && replay_flush(&r) == 0)
		rc = -2; /* damaged, but the rows before the damage are in */
	else if (rc == 0)
		rc = replay_flush(&r);
	if (rc == 0) {
		unlink(path);
		log_debug("replayed %ld spooled captures from %s", r.done, path);
		w->replayed += r.done;
	} else if (rc == -2 || PQstatus(w->db) == CONNECTION_OK) {
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

/* Once a backlog of captures has drained (queue and spool), hands the
 * memory it held back to the system: freed chunks in the workers' malloc
 * arenas otherwise stay in RSS as the backlog's high-water mark. */
static void trim_after_backlog(struct writer *w)
{
	bool trim;

	pthread_mutex_lock(&w->lock);
	trim = w->queued == 0 && !w->spool_pending &&
	       (w->peak >= TRIM_BACKLOG || w->big_freed >= TRIM_BIG_FREED);
	if (trim)
		w->peak = w->big_freed = 0;
	pthread_mutex_unlock(&w->lock);
	if (trim)
		malloc_trim(0);
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	struct capture *v[SPOOL_BATCH_ROWS];
	long backlog;
	int n, stop;

	/* connect now: a wrong DATABASE_URL shows in the log at start */
	db_ready(w);
	w->spool_pending = true; /* files left by an earlier run are replayed first */
	for (;;) {
		pthread_mutex_lock(&w->lock);
		wait_for_work(w);
		stop = w->stopping;
		/* a spool file takes many more at once: its fsync is the cost
		 * (on stop the queue goes to the database, as before) */
		n = take_batch(w, v, !stop && behind(w, w->queued) ? SPOOL_BATCH_ROWS : BATCH_ROWS);
		backlog = w->queued;
		pthread_mutex_unlock(&w->lock);
		if (n)
			store_batch(w, v, n, stop ? 0 : backlog);
		else if (stop)
			break;
		/* replay between batches, giving way as soon as new ones wait */
		while (w->spool_pending && !stop && !queue_waiting(w) && db_ready(w))
			replay_one(w);
		trim_after_backlog(w);
	}
	return NULL;
}

struct writer *writer_start(const struct config *cfg, struct journal *journal)
{
	struct writer *w = xcalloc(1, sizeof(*w));

	w->cfg = cfg;
	w->journal = journal;
	if (spool_init(cfg->spool_dir) < 0)
		log_error("cannot create spool directory %s: %s", cfg->spool_dir, strerror(errno));
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	pthread_cond_init(&w->room, NULL);
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
	pthread_cond_broadcast(&w->room);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->tid, NULL);
	if (w->dropped)
		log_error("%ld captures were dropped while the queue was full", w->dropped);
	PQfinish(w->db);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->wake);
	pthread_cond_destroy(&w->room);
	free(w);
}
