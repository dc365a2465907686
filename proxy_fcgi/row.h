/* row.h - a capture as the parameters of the captures INSERT.
 *
 * The writer sends these rows to PostgreSQL; the spool and the journal keep
 * them on disk in the same form, so replaying is sending them again. */
#ifndef ROW_H
#define ROW_H

#include "capture.h"
#include "spool.h"

#define ROW_NPARAMS 41

/* INSERT ... VALUES (...), ... ON CONFLICT DO NOTHING of rows rows, with
 * ROW_NPARAMS parameters each (row r's parameter i is $(r*ROW_NPARAMS+i)).
 * The caller frees it. */
char *row_insert_sql(int rows);

/* Rows too big for parameters (rowcopy.h) go through a temporary staging
 * table: created in a session's first such transaction, filled by COPY (text format, the row's
 * values in parameter order), moved into captures in the same transaction
 * with the same ON CONFLICT DO NOTHING, so replaying stays idempotent. */
extern const char row_stage_create_sql[];
extern const char row_stage_copy_sql[];
extern const char row_stage_insert_sql[];

/* Text forms of a row's numbers; must live as long as the row's parameters. */
struct row_text {
	char started[64], req_size[24], resp_size[24], status[24], events[24];
	char tokens[5][24], ttfb[32], duration[32];
};

/* Sets r to the insert's parameters for c, pointing into c and t. */
void row_fill(const struct capture *c, struct row_text *t, struct spool_row *r);

#endif
