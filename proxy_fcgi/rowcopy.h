/* rowcopy.h - captures too big for query parameters go to PostgreSQL by COPY.
 *
 * libpq builds a whole Bind message in its output buffer, which doubles to
 * fit and never shrinks: one 4 MB body left an 8 MB buffer (4 MB of it
 * touched) for the life of the writer's connection, on top of the capture
 * itself. COPY data is handed over in 64 KB pieces that libpq sends as it
 * goes, so memory stays at the capture's own size, whatever came before.
 * Used by the writer for fresh batches and spool replay alike. */
#ifndef ROWCOPY_H
#define ROWCOPY_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "spool.h"

/* Rows whose values pass this many bytes go by COPY: a 32-row INSERT of
 * smaller ones stays about a megabyte. */
#define ROWCOPY_MIN (32 * 1024)

/* true if row is a current-layout row of more than ROWCOPY_MIN bytes. */
bool rowcopy_wanted(const struct spool_row *row);
/* Inserts rows[0..n) in one transaction: COPY into the staging table, then
 * INSERT ... SELECT ... ON CONFLICT DO NOTHING. Returns 0, 1 if the database
 * refused them (none written), -1 if the connection failed or timed out. */
int rowcopy_insert(PGconn *db, const struct spool_row *const *rows, int n);

#endif
