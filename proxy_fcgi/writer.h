/* writer.h - moves finished captures into PostgreSQL, off the request path.
 *
 * Workers hand captures over with writer_push(), which only takes a lock and
 * links a pointer. One writer thread inserts them in batches (pipeline mode,
 * one transaction per batch) on its own connection. While the database is
 * away, or the queue backs up behind it, batches go to the spool on disk
 * (spool.h) and are replayed, oldest first, once it takes them again. */
#ifndef WRITER_H
#define WRITER_H

#include "capture.h"
#include "config.h"
#include "journal.h"

struct writer;

/* Starts the writer thread (which connects at once); it tells journal (may
 * be NULL) which captures are safe and rotates it. */
struct writer *writer_start(const struct config *cfg, struct journal *journal);
/* Takes ownership of c. Never blocks on the database. */
void writer_push(struct writer *w, struct capture *c);
/* Writes what is queued to the database, or to the spool when the database
 * is away, stops the thread and frees w. NULL is fine. */
void writer_stop(struct writer *w);

#endif
