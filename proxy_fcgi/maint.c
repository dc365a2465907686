/* maint.c - partition creation and MAX_REQUESTS_HISTORY pruning in the background. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "log.h"
#include "maint.h"
#include "xalloc.h"
#include "banned.h"

#define PRUNE_BATCH 5000
#define TICK_S 10               /* the rollup refresh, and the shortest prune interval */
#define PRUNE_KEEP_PER_S 20000  /* a history of keep captures is pruned every keep/this s */
#define PRUNE_MAX_EVERY_S 60
#define PARTITIONS_EVERY_S 3600

struct maint {
	const struct config *cfg;
	pthread_t tid;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	int stopping;
	PGconn *db;
};

static bool stopping(struct maint *m)
{
	bool s;

	pthread_mutex_lock(&m->lock);
	s = m->stopping;
	pthread_mutex_unlock(&m->lock);
	return s;
}

/* Runs a one-value query with one optional parameter; returns the value as a
 * number, or -1 on error (logged). */
static long query_number(struct maint *m, const char *sql, const char *param)
{
	const char *vals[1] = { param };
	PGresult *res = PQexecParams(m->db, sql, param ? 1 : 0, NULL, vals, NULL, NULL, 0);
	long n = -1;

	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	else
		db_log_error(sql, m->db, res);
	PQclear(res);
	return n;
}

/* Seconds until the next prune of a history of keep captures, the last
 * one having deleted pruned. Finding the cut walks keep index entries
 * (75 ms for a million), so a long history is checked less often, unless
 * captures come in fast enough to overshoot it by 1 % meanwhile. */
static time_t prune_every_s(long keep, long pruned)
{
	long s = keep / PRUNE_KEEP_PER_S;

	if (s < TICK_S || pruned > keep / 100)
		return TICK_S;
	return s > PRUNE_MAX_EVERY_S ? PRUNE_MAX_EVERY_S : s;
}

static time_t now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec;
}

/* Returns the number of captures deleted. */
static long prune(struct maint *m)
{
	char keep[24];
	long n, total = 0;

	snprintf(keep, sizeof(keep), "%ld", m->cfg->max_requests_history);
	do {
		n = query_number(m, "SELECT captures_prune($1::bigint, 5000)", keep);
		if (n > 0)
			total += n;
	} while (n >= PRUNE_BATCH && !stopping(m));
	if (total)
		log_info("pruned %ld captures beyond MAX_REQUESTS_HISTORY=%ld", total,
			 m->cfg->max_requests_history);
	return total;
}

/* Creates the coming days' partitions and drops those past
 * MAX_REQUESTS_AGE_DAYS. Returns 0, or -1 if a query failed. */
static int partitions(struct maint *m)
{
	char days[24];
	long dropped;

	if (query_number(m, "SELECT capture_partitions_ensure(7)", NULL) < 0)
		return -1;
	if (m->cfg->max_requests_age_days <= 0)
		return 0;
	snprintf(days, sizeof(days), "%ld", m->cfg->max_requests_age_days);
	dropped = query_number(m, "SELECT captures_drop_older_than($1::integer)", days);
	if (dropped > 0)
		log_info("dropped %ld daily partitions older than MAX_REQUESTS_AGE_DAYS=%s",
			 dropped, days);
	return dropped < 0 ? -1 : 0;
}

static int ensure_connected(struct maint *m)
{
	if (m->db && PQstatus(m->db) == CONNECTION_OK)
		return 0;
	PQfinish(m->db);
	m->db = db_connect(m->cfg->database_url, "capture-proxy maintenance", 5);
	return m->db ? 0 : -1;
}

static void sleep_or_stop(struct maint *m, int seconds)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += seconds;
	pthread_mutex_lock(&m->lock);
	if (!m->stopping)
		pthread_cond_timedwait(&m->wake, &m->lock, &until);
	pthread_mutex_unlock(&m->lock);
}

static void *maint_main(void *arg)
{
	struct maint *m = arg;
	time_t partitions_due = now_s(), prune_due = now_s();
	long keep = m->cfg->max_requests_history;

	while (!stopping(m)) {
		if (ensure_connected(m) == 0) {
			if (now_s() >= partitions_due && partitions(m) == 0)
				partitions_due = now_s() + PARTITIONS_EVERY_S;
			if (keep > 0 && now_s() >= prune_due)
				prune_due = now_s() + prune_every_s(keep, prune(m));
			/* the dashboard's statistics read hourly sums: bring them up to date */
			query_number(m, "SELECT captures_rollup_refresh()", NULL);
		}
		sleep_or_stop(m, TICK_S);
	}
	return NULL;
}

struct maint *maint_start(const struct config *cfg)
{
	struct maint *m = xcalloc(1, sizeof(*m));

	m->cfg = cfg;
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->wake, NULL);
	if (pthread_create(&m->tid, NULL, maint_main, m)) {
		log_error("cannot start the maintenance thread: %s", strerror(errno));
		abort();
	}
	return m;
}

void maint_stop(struct maint *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->stopping = 1;
	pthread_cond_broadcast(&m->wake);
	pthread_mutex_unlock(&m->lock);
	pthread_join(m->tid, NULL);
	PQfinish(m->db);
	pthread_mutex_destroy(&m->lock);
	pthread_cond_destroy(&m->wake);
	free(m);
}
