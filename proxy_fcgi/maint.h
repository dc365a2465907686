/* maint.h - background housekeeping of the captures table.
 *
 * A thread with its own connection creates daily partitions ahead of time
 * and drops those past MAX_REQUESTS_AGE_DAYS (hourly), prunes to
 * MAX_REQUESTS_HISTORY in small batches (every 10 s, a long history up to
 * every minute) and refreshes the statistics rollup (every 10 s), so none
 * of it ever holds up the writer's inserts. */
#ifndef MAINT_H
#define MAINT_H

#include "config.h"

struct maint;

/* Starts the thread; returns NULL (and does nothing) if there is no work
 * for it, which never happens as partitions always need creating. */
struct maint *maint_start(const struct config *cfg);
/* Stops the thread (ending a prune between batches) and frees m; NULL is fine. */
void maint_stop(struct maint *m);

#endif
