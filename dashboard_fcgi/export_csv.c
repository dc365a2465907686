/* export_csv.c - captures as CSV (RFC 4180): a header row, then one row of
 * flat columns per capture, lines ending in CRLF. */
#include <string.h>

#include "buf.h"
#include "export.h"
#include "jsonparse.h"
#include "reply.h"
#include "banned.h"

/* Characters that make a spreadsheet read a cell as a formula (OWASP's
 * list): such text gets a leading apostrophe. */
static bool formula_like(const char *s, size_t n)
{
	return n > 0 && s[0] != '\0' && strchr("=+-@\t\r", s[0]) != NULL;
}

static bool needs_quotes(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n')
			return true;
	return false;
}

void csv_field(jw_sink_fn sink, void *ctx, const char *s, size_t n, bool text)
{
	bool quote = needs_quotes(s, n);
	const char *q;

	if (quote)
		sink(ctx, "\"", 1);
	if (text && formula_like(s, n))
		sink(ctx, "'", 1);
	while (quote && (q = memchr(s, '"', n)) != NULL) {
		size_t k = (size_t)(q - s) + 1;

		sink(ctx, s, k);
		sink(ctx, "\"", 1);
		s += k;
		n -= k;
	}
	sink(ctx, s, n);
	if (quote)
		sink(ctx, "\"", 1);
}

enum csv_kind { CSV_TEXT, CSV_NUMBER, CSV_BOOL };

/* One column: its name, its enum export_col, and what it holds (numbers
 * are written as PostgreSQL prints them, booleans as true and false). */
struct csv_col {
	const char *name;
	int col;
	enum csv_kind kind;
};

static const struct csv_col cols[] = {
	{ "id", XC_ID, CSV_TEXT },
	{ "timestamp", XC_TIMESTAMP, CSV_TEXT },
	{ "instance", XC_INSTANCE, CSV_TEXT },
	{ "method", XC_METHOD, CSV_TEXT },
	{ "path", XC_PATH, CSV_TEXT },
	{ "query", XC_QUERY, CSV_TEXT },
	{ "status", XC_STATUS, CSV_NUMBER },
	{ "outcome", XC_OUTCOME, CSV_TEXT },
	{ "error", XC_ERROR, CSV_TEXT },
	{ "model", XC_MODEL, CSV_TEXT },
	{ "streamed", XC_STREAMED, CSV_BOOL },
	{ "finish_reason", XC_FINISH_REASON, CSV_TEXT },
	{ "prompt_tokens", XC_PROMPT_TOKENS, CSV_NUMBER },
	{ "completion_tokens", XC_COMPLETION_TOKENS, CSV_NUMBER },
	{ "total_tokens", XC_TOTAL_TOKENS, CSV_NUMBER },
	{ "cached_tokens", XC_CACHED_TOKENS, CSV_NUMBER },
	{ "reasoning_tokens", XC_REASONING_TOKENS, CSV_NUMBER },
	{ "cost_usd", XC_COST, CSV_NUMBER },
	{ "duration_ms", XC_DURATION, CSV_NUMBER },
	{ "ttfb_ms", XC_TTFB, CSV_NUMBER },
	{ "key_hint", XC_KEY_HINT, CSV_TEXT },
	{ "user", XC_USER, CSV_TEXT },
	{ "session", XC_SESSION, CSV_TEXT },
	{ "tags", XC_TAGS, CSV_TEXT },
	{ "end_user", XC_END_USER, CSV_TEXT },
	{ "request_size", XC_REQ_SIZE, CSV_NUMBER },
	{ "response_size", XC_RESP_SIZE, CSV_NUMBER },
	{ "reply_preview", XC_REPLY, CSV_TEXT },
};

#define NCOLS (sizeof(cols) / sizeof(cols[0]))

static void csv_begin(struct export_out *o)
{
	size_t i;

	for (i = 0; i < NCOLS; i++) {
		if (i)
			reply_write(o->r, ",", 1);
		csv_field(reply_sink, o->r, cols[i].name, strlen(cols[i].name), false);
	}
	reply_write(o->r, "\r\n", 2);
}

/* The tags array (JSON from PostgreSQL) as one cell, joined with ';'. */
static void tags_field(struct export_out *o, const PGresult *row)
{
	const char *s = export_text(row, XC_TAGS);
	json_object *tags = s ? json_parse_bytes(s, (size_t)PQgetlength(row, 0, XC_TAGS)) : NULL;
	struct buf b;
	size_t i, n;

	buf_init(&b, BUF_NO_CAP);
	n = json_object_is_type(tags, json_type_array) ? json_object_array_length(tags) : 0;
	for (i = 0; i < n; i++) {
		json_object *t = json_object_array_get_idx(tags, i);

		if (i)
			buf_addch(&b, ';');
		buf_add(&b, json_object_get_string(t), (size_t)json_object_get_string_len(t));
	}
	csv_field(reply_sink, o->r, b.data ? b.data : "", b.len, true);
	buf_release(&b);
	json_object_put(tags);
}

static void csv_cell(struct export_out *o, const PGresult *row, const struct csv_col *c)
{
	const char *v = export_text(row, c->col);

	if (!v)
		return;     /* NULL: an empty cell */
	if (c->kind == CSV_BOOL)
		v = v[0] == 't' ? "true" : "false";
	csv_field(reply_sink, o->r, v, c->kind == CSV_BOOL ? strlen(v) :
		  (size_t)PQgetlength(row, 0, c->col), c->kind == CSV_TEXT);
}

static bool csv_row(struct export_out *o, const PGresult *row)
{
	size_t i;

	for (i = 0; i < NCOLS; i++) {
		if (i)
			reply_write(o->r, ",", 1);
		if (cols[i].col == XC_TAGS)
			tags_field(o, row);
		else
			csv_cell(o, row, &cols[i]);
	}
	reply_write(o->r, "\r\n", 2);
	return true;
}

const struct export_format export_csv = {
	.name = "csv", .ext = "csv", .content_type = "text/csv; charset=utf-8",
	.reply_chars = 200, .begin = csv_begin, .row = csv_row,
};
