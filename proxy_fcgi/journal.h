/* journal.h - answered captures on disk until the database (or the spool) has them.
 *
 * A worker appends each finished capture to a journal file of its own before
 * it tells the front server the response is complete, so a crash (kill -9)
 * loses no answered capture. Appends go to the page cache (no fsync): they
 * survive the process, not the machine. Files are grouped in epochs; the
 * writer starts a new epoch every few seconds and deletes an older epoch's
 * files once every capture in it is committed or spooled. Journal files use
 * the spool format: at start, those left by a process that is gone move into
 * the spool, whose replay is idempotent. */
#ifndef JOURNAL_H
#define JOURNAL_H

#include "buf.h"
#include "capture.h"

struct journal;

/* A worker thread's open journal file; zero it (JOURNAL_FILE_INIT) to start. */
struct journal_file {
	long epoch;
	int fd;
};
#define JOURNAL_FILE_INIT { -1, -1 }

/* Opens the journal in SPOOL_DIR/journal, first moving files of dead
 * processes into the spool. Returns NULL (logged) if the directory cannot
 * be made: captures then go unjournaled. */
struct journal *journal_open(const char *spool_dir);
/* Appends c (finished) to the thread's file and records its epoch in c.
 * Failures are logged, never fatal. j may be NULL. */
void journal_append(struct journal *j, struct journal_file *f, struct capture *c);
void journal_file_release(struct journal_file *f);
/* The writer has committed or spooled c. */
void journal_done(struct journal *j, const struct capture *c);
/* Starts a new epoch and deletes the files of finished ones (writer only). */
void journal_rotate(struct journal *j);
/* Deletes this process's files; call once every capture is committed or
 * spooled. Frees j; NULL is fine. */
void journal_close(struct journal *j);

#endif
