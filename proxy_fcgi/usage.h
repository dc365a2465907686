/* usage.h - what a captured call meant for an LLM: model, tokens, reply, finish.
 *
 * Reads OpenAI response shapes: chat.completion, text_completion, embeddings
 * lists, Responses API objects; and for streams the chunk events of chat and
 * completions (choices[].delta, a final usage chunk with
 * stream_options.include_usage) and the Responses API events
 * (response.output_text.delta, response.completed with usage). Anything that
 * is not JSON or not one of these shapes is ignored: fields stay unset. */
#ifndef USAGE_H
#define USAGE_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

struct json_object;

#define USAGE_NONE (-1L)

struct usage {
	char *model;            /* NULL if not named */
	long prompt_tokens;     /* prompt_tokens or input_tokens; USAGE_NONE if absent */
	long completion_tokens; /* completion_tokens or output_tokens */
	long total_tokens;
	long cached_tokens;     /* *_tokens_details.cached_tokens */
	long reasoning_tokens;  /* completion/output_tokens_details.reasoning_tokens */
	char *finish_reason;    /* of the first choice, or the Responses status */
	char *error_message;    /* error.message of an error body, NULL if none */
	char *end_user;         /* the request's "user" field, NULL if none */
	struct buf reply;       /* reply text: message content, or the stream's deltas */
};

/* Sets every count to USAGE_NONE; reply is capped at reply_max bytes. */
void usage_init(struct usage *u, size_t reply_max);
void usage_release(struct usage *u);

/* Reads a whole (non-streamed) JSON response body. */
void usage_from_body(struct usage *u, const char *body, size_t n);
/* Reads one SSE event of a stream (event name may be ""; data "[DONE]" is
 * ignored). Deltas are appended to reply in arrival order. */
void usage_from_event(struct usage *u, const char *event, size_t event_len,
		      const char *data, size_t n);
/* Reads the request body: its "model" when the response named none, and
 * its "user" field. */
void usage_from_request(struct usage *u, const char *body, size_t n);
/* The same from the request already parsed (o may be NULL: nothing read). */
void usage_from_request_json(struct usage *u, struct json_object *o);

#endif
