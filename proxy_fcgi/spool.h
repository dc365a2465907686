/* spool.h - captures waiting on disk while the database cannot take them.
 *
 * A spool file holds rows of insert parameters exactly as the writer would
 * send them, so replaying is sending them again (the insert ignores ids it
 * already has: replay is idempotent). Files are written under a temporary
 * name, fsynced, then renamed, so a crash leaves whole files or none; they
 * are named by creation time and replayed oldest first.
 *
 * File format: "CAPSPOOL1\n", then per row: u32 param count, then per param
 * u8 format (0 text, 1 binary) and i32 length (-1 = NULL) and the bytes
 * (text with its terminating NUL); integers little-endian. */
#ifndef SPOOL_H
#define SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

#include "buf.h"

#define SPOOL_MAX_PARAMS 64

struct spool_row {
	int n;
	const char *vals[SPOOL_MAX_PARAMS];
	int lens[SPOOL_MAX_PARAMS];
	int fmts[SPOOL_MAX_PARAMS];
};

/* Creates dir (mode 0700) if needed; -1 with errno if it cannot. */
int spool_init(const char *dir);
/* Appends one row's parameters to out (the body of a spool file). */
void spool_encode(struct buf *out, const struct spool_row *row);
/* The same bytes without copying the values: iovecs into row's values and
 * into hdr (SPOOL_HDR_MAX bytes), at most SPOOL_IOV_MAX of them; returns
 * their number and sets *total to the bytes they hold. */
#define SPOOL_HDR_MAX (4 + 5 * SPOOL_MAX_PARAMS)
#define SPOOL_IOV_MAX (1 + 2 * SPOOL_MAX_PARAMS)
int spool_encode_iov(const struct spool_row *row, unsigned char *hdr, struct iovec *iov,
		     size_t *total);
/* Writes a file holding out's rows durably. Returns 0, or -1 (logged) when
 * it cannot or when the spool would grow past max_bytes. */
int spool_save(const char *dir, const struct buf *rows, long max_bytes);
/* Path of the oldest spool file (caller frees), or NULL if there is none. */
char *spool_oldest(const char *dir);
/* Bytes held in spool files now. */
long spool_bytes(const char *dir);
/* Reads the file at path into data (caller releases it) and calls fn for
 * each row, whose pointers point into data. Stops at fn's first non-zero
 * return and returns it; returns -1 if the file is damaged (the rows before
 * the damage were passed on). */
int spool_read(const char *path, struct buf *data,
	       int (*fn)(void *ctx, const struct spool_row *row), void *ctx);

#endif
