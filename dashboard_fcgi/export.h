/* export.h - GET /api/export: captures as JSONL, CSV or HAR, streamed.
 *
 * export.c reads the filtered captures in keyset batches (one row in memory
 * at a time) and hands each row to the format's writer; the writers only
 * turn one row into bytes:
 *   export_jsonl.c  one JSON object per line, or the fine-tuning chat shape
 *   export_chat.c   a request and its reply as chat messages (for JSONL)
 *   export_csv.c    RFC 4180 rows of the flat columns
 *   export_har.c    an HTTP Archive 1.2 log
 * Rows are text-format PGresults (one row each) with the columns of enum
 * export_col; columns a format does not use are selected as NULL. */
#ifndef EXPORT_H
#define EXPORT_H

#include <json.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "dashboard.h"
#include "jsonw.h"

enum export_col {
	XC_ID, XC_TIMESTAMP, XC_CURSOR_US, XC_STARTED_MS, XC_INSTANCE, XC_METHOD, XC_PATH,
	XC_QUERY, XC_STATUS, XC_OUTCOME, XC_ERROR, XC_MODEL, XC_STREAMED, XC_FINISH_REASON,
	XC_PROMPT_TOKENS, XC_COMPLETION_TOKENS, XC_TOTAL_TOKENS, XC_CACHED_TOKENS,
	XC_REASONING_TOKENS, XC_COST, XC_DURATION, XC_TTFB, XC_KEY_HINT, XC_USER, XC_SESSION,
	XC_TAGS, XC_END_USER, XC_REQ_TYPE, XC_REQ_SIZE, XC_REQ_TRUNCATED, XC_RESP_TYPE,
	XC_RESP_SIZE, XC_RESP_TRUNCATED, XC_REQ_HEADERS, XC_RESP_HEADERS, XC_REQ_BODY,
	XC_REQ_BODY_B64, XC_RESP_BODY, XC_RESP_BODY_B64, XC_REPLY
};

/* Where a format writes: the request, a JSON writer for a format that is
 * one document (HAR), and the records written so far. */
struct export_out {
	struct req *r;
	struct jw w;
	long long n;
};

/* What a format needs from the query and how it writes. begin runs before
 * the first row (also when there is none), row once per row (false: the
 * row was skipped, e.g. no usable conversation), end after the last row of
 * a complete export, cut instead of end when the export broke off after the
 * status line went out. Any hook but row may be NULL. */
struct export_format {
	const char *name;           /* for the log */
	const char *ext;            /* file name extension */
	const char *content_type;
	bool headers;               /* select both header lists */
	bool bodies;                /* select the text bodies */
	bool bodies_b64;            /* select binary bodies, in base64 */
	int reply_chars;            /* of reply_text: -1 all, 0 none, else the first N */
	void (*begin)(struct export_out *o);
	bool (*row)(struct export_out *o, const PGresult *row);
	void (*end)(struct export_out *o);
	void (*cut)(struct export_out *o, const char *why);
};

extern const struct export_format export_jsonl, export_messages, export_csv, export_har;

/* The column as a NUL-terminated string, or NULL when SQL NULL. */
const char *export_text(const PGresult *row, int col);

/* Writes a json-c value (NULL is null) through w. Subtrees nested deeper
 * than the writer can track are written by json-c itself. */
void export_json_value(struct jw *w, json_object *o);

/* export_chat.c: OpenAI requests and replies as chat-completions messages.
 * Results are new json-c values the caller json_object_put()s; NULL when
 * there is nothing to convert. */

/* The request's conversation: a chat request's "messages" as they are, or
 * a Responses request's instructions and input converted (text parts
 * joined, function calls and their outputs as tool_calls and tool
 * messages; items with no chat equivalent dropped). */
json_object *chat_request_messages(json_object *req, bool responses_api);
/* The request's function tools in chat format (Responses tools converted). */
json_object *chat_request_tools(json_object *req, bool responses_api);
/* The assistant message of a stored response body: a JSON body, or the
 * server-sent events of a stream (sse true) reassembled, content and
 * tool calls; NULL if the body holds no reply. */
json_object *chat_reply_message(const char *body, size_t n, bool sse);
/* {"role": "assistant", "content": text}: the fallback from reply_text. */
json_object *chat_text_message(const char *text, size_t n);

/* export_csv.c: one RFC 4180 field through sink. text fields that start
 * with = + - @ TAB or CR get a leading apostrophe, so a spreadsheet shows
 * them instead of running them as formulas. */
void csv_field(jw_sink_fn sink, void *ctx, const char *s, size_t n, bool text);

#endif
