/* test_usage.c - model, tokens, reply and finish reason from real OpenAI shapes. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json.h>

#include "check.h"
#include "xalloc.h"
#include "../../proxy_fcgi/sse.c"
#include "../../proxy_fcgi/usage.c"

#define N USAGE_NONE

static const char chat_body[] =
	"{\n"
	"  \"id\": \"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT\",\n"
	"  \"object\": \"chat.completion\",\n"
	"  \"created\": 1741569952,\n"
	"  \"model\": \"gpt-4.1-2025-04-14\",\n"
	"  \"choices\": [\n"
	"    {\n"
	"      \"index\": 0,\n"
	"      \"message\": {\n"
	"        \"role\": \"assistant\",\n"
	"        \"content\": \"Hello! How can I assist you today?\",\n"
	"        \"refusal\": null,\n"
	"        \"annotations\": []\n"
	"      },\n"
	"      \"logprobs\": null,\n"
	"      \"finish_reason\": \"stop\"\n"
	"    }\n"
	"  ],\n"
	"  \"usage\": {\n"
	"    \"prompt_tokens\": 19,\n"
	"    \"completion_tokens\": 10,\n"
	"    \"total_tokens\": 29,\n"
	"    \"prompt_tokens_details\": {\"cached_tokens\": 6, \"audio_tokens\": 0},\n"
	"    \"completion_tokens_details\": {\"reasoning_tokens\": 3, \"audio_tokens\": 0,\n"
	"      \"accepted_prediction_tokens\": 0, \"rejected_prediction_tokens\": 0}\n"
	"  },\n"
	"  \"service_tier\": \"default\",\n"
	"  \"system_fingerprint\": \"fp_0ba0d124f1\"\n"
	"}\n";

static const char chat_tools_body[] =
	"{\"id\":\"chatcmpl-abc123\",\"object\":\"chat.completion\",\"created\":1699896916,"
	"\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
	"\"content\":null,\"tool_calls\":[{\"id\":\"call_abc123\",\"type\":\"function\","
	"\"function\":{\"name\":\"get_current_weather\",\"arguments\":"
	"\"{\\n\\\"location\\\": \\\"Boston, MA\\\"\\n}\"}},{\"id\":\"call_def\",\"type\":"
	"\"function\",\"function\":{\"name\":\"get_time\",\"arguments\":\"{}\"}}]},"
	"\"logprobs\":null,\"finish_reason\":\"tool_calls\"}],\"usage\":{\"prompt_tokens\":82,"
	"\"completion_tokens\":17,\"total_tokens\":99,\"completion_tokens_details\":"
	"{\"reasoning_tokens\":0}}}";

static const char chat_refusal_body[] =
	"{\"id\":\"chatcmpl-r\",\"object\":\"chat.completion\",\"created\":1,\"model\":"
	"\"gpt-4o-2024-08-06\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
	"\"content\":null,\"refusal\":\"I'm sorry, I can't help with that.\"},"
	"\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":9,"
	"\"total_tokens\":14}}";

static const char completion_body[] =
	"{\"id\":\"cmpl-uqkvlQyYK7bGYrRHQ0eXlWi7\",\"object\":\"text_completion\","
	"\"created\":1589478378,\"model\":\"gpt-3.5-turbo-instruct\",\"system_fingerprint\":"
	"\"fp_44709d6fcb\",\"choices\":[{\"text\":\"\\n\\nThis is indeed a test\",\"index\":0,"
	"\"logprobs\":null,\"finish_reason\":\"length\"}],\"usage\":{\"prompt_tokens\":5,"
	"\"completion_tokens\":7,\"total_tokens\":12}}";

static const char response_body[] =
	"{\"id\":\"resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b\",\"object\":\"response\","
	"\"created_at\":1741476542,\"status\":\"completed\",\"error\":null,"
	"\"incomplete_details\":null,\"instructions\":null,\"max_output_tokens\":null,"
	"\"model\":\"o4-mini-2025-04-16\",\"output\":[{\"id\":\"rs_1\",\"type\":\"reasoning\","
	"\"summary\":[]},{\"type\":\"message\",\"id\":\"msg_67ccd2bf17f0819081ff3bb2cf6508e6\","
	"\"status\":\"completed\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\","
	"\"text\":\"In a peaceful grove beneath a silver moon, a unicorn named Lumina.\","
	"\"annotations\":[]}]}],\"parallel_tool_calls\":true,\"previous_response_id\":null,"
	"\"reasoning\":{\"effort\":\"medium\",\"summary\":null},\"store\":true,\"temperature\":1.0,"
	"\"text\":{\"format\":{\"type\":\"text\"}},\"tool_choice\":\"auto\",\"tools\":[],"
	"\"top_p\":1.0,\"truncation\":\"disabled\",\"usage\":{\"input_tokens\":36,"
	"\"input_tokens_details\":{\"cached_tokens\":4},\"output_tokens\":87,"
	"\"output_tokens_details\":{\"reasoning_tokens\":64},\"total_tokens\":123},"
	"\"user\":null,\"metadata\":{}}";

static const char response_tool_body[] =
	"{\"id\":\"resp_t\",\"object\":\"response\",\"created_at\":1741294021,\"status\":"
	"\"completed\",\"error\":null,\"model\":\"gpt-4.1-2025-04-14\",\"output\":[{\"type\":"
	"\"function_call\",\"id\":\"fc_1\",\"call_id\":\"call_1\",\"name\":\"get_weather\","
	"\"arguments\":\"{\\\"location\\\":\\\"Paris, France\\\"}\",\"status\":\"completed\"}],"
	"\"usage\":{\"input_tokens\":291,\"output_tokens\":23,\"output_tokens_details\":"
	"{\"reasoning_tokens\":0},\"total_tokens\":314}}";

static const char embeddings_body[] =
	"{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,\"embedding\":"
	"[0.0023064255,-0.009327292,-0.0028842222]}],\"model\":\"text-embedding-3-small\","
	"\"usage\":{\"prompt_tokens\":8,\"total_tokens\":8}}";

static const char error_body[] =
	"{\n    \"error\": {\n        \"message\": \"Incorrect API key provided: sk-abc. You can "
	"find your API key at https://platform.openai.com/account/api-keys.\",\n"
	"        \"type\": \"invalid_request_error\",\n        \"param\": null,\n"
	"        \"code\": \"invalid_api_key\"\n    }\n}\n";

#define CHUNK_HEAD "data: {\"id\":\"chatcmpl-AZ8kLm3\",\"object\":\"chat.completion.chunk\"," \
	"\"created\":1732000000,\"model\":\"gpt-4o-mini-2024-07-18\","

static const char chat_stream[] =
	CHUNK_HEAD "\"system_fingerprint\":\"fp_0ba0d124f1\",\"choices\":[{\"index\":0,"
	"\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},"
	"\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n"
	CHUNK_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"},"
	"\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n"
	CHUNK_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":"
	"\" w\xc3\xb6rld \xe4\xbd\xa0\xe5\xa5\xbd\"},"
	"\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n"
	CHUNK_HEAD "\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,"
	"\"finish_reason\":\"stop\"}],\"usage\":null}\n\n"
	CHUNK_HEAD "\"choices\":[],"
	"\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":4,\"total_tokens\":13,"
	"\"prompt_tokens_details\":{\"cached_tokens\":0,\"audio_tokens\":0},"
	"\"completion_tokens_details\":{\"reasoning_tokens\":0,\"audio_tokens\":0,"
	"\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}}}\n\n"
	"data: [DONE]\n\n";

/* n=2: the second choice's deltas must not mix into the reply. */
static const char chat_stream_n2[] =
	"data: {\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o\",\"choices\":"
	"[{\"index\":1,\"delta\":{\"content\":\"Other\"},\"finish_reason\":null}]}\n\n"
	"data: {\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o\",\"choices\":"
	"[{\"index\":0,\"delta\":{\"content\":\"Mine\"},\"finish_reason\":null}]}\n\n"
	"data: {\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o\",\"choices\":"
	"[{\"index\":1,\"delta\":{},\"finish_reason\":\"length\"}]}\n\n"
	"data: {\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o\",\"choices\":"
	"[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
	"data: [DONE]\n\n";

static const char chat_tool_stream[] =
	"data: {\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-2024-08-06\",\"choices\":"
	"[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":"
	"[{\"index\":0,\"id\":\"call_DdmO9pD3xa9XTPNJ32zg2hcA\",\"type\":\"function\","
	"\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}],\"refusal\":null},"
	"\"logprobs\":null,\"finish_reason\":null}]}\n\n"
	"data: {\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-2024-08-06\",\"choices\":"
	"[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":"
	"\"{\\\"\"}}]},\"logprobs\":null,\"finish_reason\":null}]}\n\n"
	"data: {\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-2024-08-06\",\"choices\":"
	"[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":"
	"\"location\\\":\\\"Paris\\\"}\"}}]},\"logprobs\":null,\"finish_reason\":null}]}\n\n"
	"data: {\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-2024-08-06\",\"choices\":"
	"[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"tool_calls\"}]}\n\n"
	"data: [DONE]\n\n";

static const char completion_stream[] =
	"data: {\"id\":\"cmpl-7\",\"object\":\"text_completion\",\"created\":1,\"choices\":"
	"[{\"text\":\"Once\",\"index\":0,\"logprobs\":null,\"finish_reason\":null}],"
	"\"model\":\"gpt-3.5-turbo-instruct\"}\n\n"
	"data: {\"id\":\"cmpl-7\",\"object\":\"text_completion\",\"created\":1,\"choices\":"
	"[{\"text\":\" upon\",\"index\":0,\"logprobs\":null,\"finish_reason\":\"length\"}],"
	"\"model\":\"gpt-3.5-turbo-instruct\"}\n\n"
	"data: {\"id\":\"cmpl-7\",\"object\":\"text_completion\",\"created\":1,\"choices\":[],"
	"\"model\":\"gpt-3.5-turbo-instruct\",\"usage\":{\"prompt_tokens\":4,"
	"\"completion_tokens\":2,\"total_tokens\":6}}\n\n"
	"data: [DONE]\n\n";

#define RESP_HEAD "{\"id\":\"resp_1\",\"object\":\"response\",\"created_at\":1741290958," \
	"\"error\":null,\"incomplete_details\":null,\"model\":\"gpt-4.1-2025-04-14\","

static const char response_stream[] =
	"event: response.created\n"
	"data: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":" RESP_HEAD
	"\"status\":\"in_progress\",\"output\":[],\"usage\":null}}\n\n"
	"event: response.in_progress\n"
	"data: {\"type\":\"response.in_progress\",\"sequence_number\":1,\"response\":" RESP_HEAD
	"\"status\":\"in_progress\",\"output\":[],\"usage\":null}}\n\n"
	"event: response.output_item.added\n"
	"data: {\"type\":\"response.output_item.added\",\"sequence_number\":2,\"output_index\":0,"
	"\"item\":{\"id\":\"msg_1\",\"type\":\"message\",\"status\":\"in_progress\","
	"\"role\":\"assistant\",\"content\":[]}}\n\n"
	"event: response.content_part.added\n"
	"data: {\"type\":\"response.content_part.added\",\"sequence_number\":3,\"item_id\":"
	"\"msg_1\",\"output_index\":0,\"content_index\":0,\"part\":{\"type\":\"output_text\","
	"\"text\":\"\",\"annotations\":[]}}\n\n"
	"event: response.output_text.delta\n"
	"data: {\"type\":\"response.output_text.delta\",\"sequence_number\":4,\"item_id\":"
	"\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\"Hi\"}\n\n"
	"event: response.output_text.delta\n"
	"data: {\"type\":\"response.output_text.delta\",\"sequence_number\":5,\"item_id\":"
	"\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\" there!\"}\n\n"
	"event: response.output_text.done\n"
	"data: {\"type\":\"response.output_text.done\",\"sequence_number\":6,\"item_id\":"
	"\"msg_1\",\"output_index\":0,\"content_index\":0,\"text\":\"Hi there!\"}\n\n"
	"event: response.output_item.done\n"
	"data: {\"type\":\"response.output_item.done\",\"sequence_number\":7,\"output_index\":0,"
	"\"item\":{\"id\":\"msg_1\",\"type\":\"message\",\"status\":\"completed\",\"role\":"
	"\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"Hi there!\"}]}}\n\n"
	"event: response.completed\n"
	"data: {\"type\":\"response.completed\",\"sequence_number\":8,\"response\":" RESP_HEAD
	"\"status\":\"completed\",\"output\":[{\"id\":\"msg_1\",\"type\":\"message\","
	"\"status\":\"completed\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\","
	"\"text\":\"Hi there!\",\"annotations\":[]}]}],\"usage\":{\"input_tokens\":37,"
	"\"input_tokens_details\":{\"cached_tokens\":0},\"output_tokens\":11,"
	"\"output_tokens_details\":{\"reasoning_tokens\":0},\"total_tokens\":48}}}\n\n";

static const char response_tool_stream[] =
	"data: {\"type\":\"response.created\",\"response\":" RESP_HEAD
	"\"status\":\"in_progress\",\"output\":[]}}\n\n"
	"data: {\"type\":\"response.output_item.added\",\"output_index\":0,\"item\":{\"type\":"
	"\"function_call\",\"id\":\"fc_1\",\"call_id\":\"call_1\",\"name\":\"get_weather\","
	"\"arguments\":\"\"}}\n\n"
	"data: {\"type\":\"response.function_call_arguments.delta\",\"item_id\":\"fc_1\","
	"\"output_index\":0,\"delta\":\"{\\\"location\\\":\"}\n\n"
	"data: {\"type\":\"response.function_call_arguments.delta\",\"item_id\":\"fc_1\","
	"\"output_index\":0,\"delta\":\"\\\"Paris\\\"}\"}\n\n"
	"data: {\"type\":\"response.incomplete\",\"response\":" RESP_HEAD
	"\"status\":\"incomplete\",\"output\":[],\"usage\":{\"input_tokens\":5,"
	"\"output_tokens\":16,\"total_tokens\":21}}}\n\n";

static const char response_failed_stream[] =
	"event: response.created\n"
	"data: {\"type\":\"response.created\",\"response\":" RESP_HEAD
	"\"status\":\"in_progress\",\"output\":[]}}\n\n"
	"event: response.failed\n"
	"data: {\"type\":\"response.failed\",\"response\":{\"id\":\"resp_1\",\"object\":"
	"\"response\",\"status\":\"failed\",\"error\":{\"code\":\"server_error\",\"message\":"
	"\"The model failed to generate a response.\"},\"output\":[],\"usage\":null}}\n\n";

static void check_counts(const struct usage *u, long prompt, long completion,
			 long total, long cached, long reasoning)
{
	CHECK(u->prompt_tokens == prompt);
	CHECK(u->completion_tokens == completion);
	CHECK(u->total_tokens == total);
	CHECK(u->cached_tokens == cached);
	CHECK(u->reasoning_tokens == reasoning);
}

static void check_unset(const struct usage *u)
{
	check_counts(u, N, N, N, N, N);
	CHECK(u->model == NULL);
	CHECK(u->finish_reason == NULL);
	CHECK(u->error_message == NULL);
	CHECK(u->reply.len == 0);
}

static void from_body(struct usage *u, const char *body)
{
	usage_init(u, 1 << 20);
	usage_from_body(u, body, strlen(body));
}

static void on_event(void *ctx, const char *event, size_t event_len,
		     const char *data, size_t data_len)
{
	usage_from_event(ctx, event, event_len, data, data_len);
}

/* Runs a stream through sse and usage in pieces of step bytes. */
static void from_stream(struct usage *u, const char *text, size_t step)
{
	struct sse_parser p;
	size_t i, n = strlen(text);

	usage_init(u, 1 << 20);
	sse_init(&p, 1 << 20);
	for (i = 0; i < n; i += step)
		sse_feed(&p, text + i, n - i < step ? n - i : step, on_event, u);
	sse_release(&p);
}

static void test_chat_completion(void)
{
	struct usage u;

	from_body(&u, chat_body);
	CHECK_STR(u.model, "gpt-4.1-2025-04-14");
	CHECK_STR(u.reply.data, "Hello! How can I assist you today?");
	CHECK_STR(u.finish_reason, "stop");
	CHECK(u.error_message == NULL);
	check_counts(&u, 19, 10, 29, 6, 3);
	usage_release(&u);
}

static void test_chat_tool_calls(void)
{
	struct usage u;

	from_body(&u, chat_tools_body);
	CHECK_STR(u.reply.data, "[tool_call get_current_weather] {\n\"location\": "
		  "\"Boston, MA\"\n}\n[tool_call get_time] {}");
	CHECK_STR(u.finish_reason, "tool_calls");
	check_counts(&u, 82, 17, 99, N, 0);
	usage_release(&u);
}

static void test_chat_refusal(void)
{
	struct usage u;

	from_body(&u, chat_refusal_body);
	CHECK_STR(u.reply.data, "I'm sorry, I can't help with that.");
	CHECK_STR(u.model, "gpt-4o-2024-08-06");
	check_counts(&u, 5, 9, 14, N, N);
	usage_release(&u);
}

static void test_text_completion(void)
{
	struct usage u;

	from_body(&u, completion_body);
	CHECK_STR(u.model, "gpt-3.5-turbo-instruct");
	CHECK_STR(u.reply.data, "\n\nThis is indeed a test");
	CHECK_STR(u.finish_reason, "length");
	check_counts(&u, 5, 7, 12, N, N);
	usage_release(&u);
}

static void test_responses_object(void)
{
	struct usage u;

	from_body(&u, response_body);
	CHECK_STR(u.model, "o4-mini-2025-04-16");
	CHECK_STR(u.reply.data, "In a peaceful grove beneath a silver moon, a unicorn named Lumina.");
	CHECK_STR(u.finish_reason, "completed");
	CHECK(u.error_message == NULL);
	check_counts(&u, 36, 87, 123, 4, 64);
	usage_release(&u);

	from_body(&u, response_tool_body);
	CHECK_STR(u.reply.data, "[tool_call get_weather] {\"location\":\"Paris, France\"}");
	check_counts(&u, 291, 23, 314, N, 0);
	usage_release(&u);
}

static void test_embeddings(void)
{
	struct usage u;

	from_body(&u, embeddings_body);
	CHECK_STR(u.model, "text-embedding-3-small");
	check_counts(&u, 8, N, 8, N, N);
	CHECK(u.reply.len == 0);
	CHECK(u.finish_reason == NULL);
	usage_release(&u);
}

static void test_error_body(void)
{
	struct usage u;

	from_body(&u, error_body);
	CHECK_STR(u.error_message, "Incorrect API key provided: sk-abc. You can find your "
		  "API key at https://platform.openai.com/account/api-keys.");
	CHECK(u.model == NULL);
	check_counts(&u, N, N, N, N, N);
	usage_release(&u);

	from_body(&u, "{\"error\":\"upstream connect error\"}");
	CHECK_STR(u.error_message, "upstream connect error");
	usage_release(&u);
}

static void test_chat_stream(void)
{
	static const size_t steps[] = { 1, 2, 3, 7, 64, 100000 };
	struct usage u;
	size_t i;

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		from_stream(&u, chat_stream, steps[i]);
		CHECK_STR(u.model, "gpt-4o-mini-2024-07-18");
		CHECK_STR(u.reply.data, "Hello w\xc3\xb6rld \xe4\xbd\xa0\xe5\xa5\xbd");
		CHECK_STR(u.finish_reason, "stop");
		check_counts(&u, 9, 4, 13, 0, 0);
		usage_release(&u);
	}
}

/* Without stream_options.include_usage there is no usage chunk: NULL, not 0. */
static void test_chat_stream_without_usage(void)
{
	struct usage u;
	const char *end = strstr(chat_stream, CHUNK_HEAD "\"choices\":[],");
	char *cut = xmemdupz(chat_stream, (size_t)(end - chat_stream));

	from_stream(&u, cut, 5);
	CHECK_STR(u.reply.data, "Hello w\xc3\xb6rld \xe4\xbd\xa0\xe5\xa5\xbd");
	CHECK_STR(u.finish_reason, "stop");
	check_counts(&u, N, N, N, N, N);
	usage_release(&u);
	free(cut);
}

static void test_chat_stream_two_choices(void)
{
	struct usage u;

	from_stream(&u, chat_stream_n2, 9);
	CHECK_STR(u.reply.data, "Mine");
	CHECK_STR(u.finish_reason, "stop");
	CHECK_STR(u.model, "gpt-4o");
	usage_release(&u);
}

static void test_chat_tool_stream(void)
{
	struct usage u;

	from_stream(&u, chat_tool_stream, 11);
	CHECK_STR(u.reply.data, "[tool_call get_weather] {\"location\":\"Paris\"}");
	CHECK_STR(u.finish_reason, "tool_calls");
	usage_release(&u);
}

static void test_completion_stream(void)
{
	struct usage u;

	from_stream(&u, completion_stream, 13);
	CHECK_STR(u.reply.data, "Once upon");
	CHECK_STR(u.finish_reason, "length");
	CHECK_STR(u.model, "gpt-3.5-turbo-instruct");
	check_counts(&u, 4, 2, 6, N, N);
	usage_release(&u);
}

static void test_responses_stream(void)
{
	struct usage u;

	from_stream(&u, response_stream, 17);
	CHECK_STR(u.model, "gpt-4.1-2025-04-14");
	CHECK_STR(u.reply.data, "Hi there!");
	CHECK_STR(u.finish_reason, "completed");
	check_counts(&u, 37, 11, 48, 0, 0);
	usage_release(&u);
}

/* The type in the data is enough when a server sends no "event:" lines. */
static void test_responses_stream_without_event_lines(void)
{
	struct usage u;
	struct buf b;
	const char *p = response_stream, *nl;

	buf_init(&b, BUF_NO_CAP);
	while ((nl = strchr(p, '\n')) != NULL) {
		if (strncmp(p, "event:", 6))
			buf_add(&b, p, (size_t)(nl - p) + 1);
		p = nl + 1;
	}
	from_stream(&u, b.data, 4096);
	CHECK_STR(u.reply.data, "Hi there!");
	CHECK_STR(u.finish_reason, "completed");
	check_counts(&u, 37, 11, 48, 0, 0);
	usage_release(&u);
	buf_release(&b);
}

static void test_responses_stream_tool_and_incomplete(void)
{
	struct usage u;

	from_stream(&u, response_tool_stream, 3);
	CHECK_STR(u.reply.data, "[tool_call get_weather] {\"location\":\"Paris\"}");
	CHECK_STR(u.finish_reason, "incomplete");
	check_counts(&u, 5, 16, 21, N, N);
	usage_release(&u);
}

static void test_responses_stream_failed(void)
{
	struct usage u;

	from_stream(&u, response_failed_stream, 1);
	CHECK_STR(u.finish_reason, "failed");
	CHECK_STR(u.error_message, "The model failed to generate a response.");
	CHECK_STR(u.model, "gpt-4.1-2025-04-14");
	CHECK(u.reply.len == 0);
	check_counts(&u, N, N, N, N, N);
	usage_release(&u);
}

/* The completed event carries the whole output: used when no delta came. */
static void test_responses_completed_only(void)
{
	struct usage u;
	const char *done = strstr(response_stream, "event: response.completed");

	from_stream(&u, done, 1000);
	CHECK_STR(u.reply.data, "Hi there!");
	usage_release(&u);
}

static void test_stream_errors(void)
{
	struct usage u;

	from_stream(&u, "data: {\"error\":{\"message\":\"The server had an error while "
		    "processing your request. Sorry about that!\",\"type\":\"server_error\","
		    "\"param\":null,\"code\":null}}\n\n", 10);
	CHECK_STR(u.error_message, "The server had an error while processing your "
		  "request. Sorry about that!");
	usage_release(&u);

	from_stream(&u, "event: error\ndata: {\"type\":\"error\",\"code\":\"ERR_SOMETHING\","
		    "\"message\":\"Something went wrong\",\"param\":null,"
		    "\"sequence_number\":1}\n\n", 10);
	CHECK_STR(u.error_message, "Something went wrong");
	usage_release(&u);
}

static void test_model_from_request(void)
{
	static const char req[] = "{\"model\":\"text-embedding-ada-002\",\"input\":\"hi\"}";
	struct usage u;

	from_body(&u, "{\"object\":\"list\",\"data\":[],\"usage\":{\"prompt_tokens\":1,"
		  "\"total_tokens\":1}}");
	CHECK(u.model == NULL);
	usage_from_request(&u, req, strlen(req));
	CHECK_STR(u.model, "text-embedding-ada-002");
	usage_release(&u);

	from_body(&u, chat_body);
	usage_from_request(&u, req, strlen(req));
	CHECK_STR(u.model, "gpt-4.1-2025-04-14");
	usage_release(&u);

	usage_init(&u, 10);
	usage_from_request(&u, "{\"model\":", 9);
	usage_from_request(&u, NULL, 0);
	usage_from_request(&u, "{\"model\":\"\"}", 12);
	CHECK(u.model == NULL);
	CHECK(u.end_user == NULL);
	usage_release(&u);

	/* the body's "user" field is attribution */
	usage_init(&u, 10);
	{
		static const char with_user[] = "{\"model\":\"gpt-4o\",\"user\":\"user-1234\"}";

		usage_from_request(&u, with_user, strlen(with_user));
	}
	CHECK_STR(u.end_user, "user-1234");
	CHECK_STR(u.model, "gpt-4o");
	usage_release(&u);
}

/* The reply cap cuts between characters, keeps the true size and takes no
 * later delta that would still fit. */
static void test_reply_cap(void)
{
	static const char d1[] = "{\"choices\":[{\"index\":0,\"delta\":{\"content\":"
				 "\"Hello w\xc3\xb6rld\"}}]}";
	static const char d2[] = "{\"choices\":[{\"index\":0,\"delta\":{\"content\":"
				 "\"!\"}}]}";
	struct usage u;

	usage_init(&u, 8);
	usage_from_event(&u, "", 0, d1, strlen(d1));
	CHECK_STR(u.reply.data, "Hello w");
	CHECK(u.reply.truncated);
	usage_from_event(&u, "", 0, d2, strlen(d2));
	CHECK_STR(u.reply.data, "Hello w");
	CHECK(u.reply.total == 13);
	usage_release(&u);
}

/* \u0000 and raw invalid bytes in a JSON string reach the reply as U+FFFD:
 * it is always storable as text. */
static void test_reply_is_text(void)
{
	struct usage u;

	from_body(&u, "{\"choices\":[{\"index\":0,\"message\":{\"content\":"
		  "\"a\\u0000b \xff \\ud800\"}}]}");
	CHECK_STR(u.reply.data, "a\xef\xbf\xbd" "b \xef\xbf\xbd \xef\xbf\xbd");
	CHECK(utf8_is_text(u.reply.data, u.reply.len));
	usage_release(&u);
}

/* Odd short fields are cut on a character boundary and made valid text. */
static void test_long_fields(void)
{
	struct usage u;
	struct buf b;
	int i;

	buf_init(&b, BUF_NO_CAP);
	buf_adds(&b, "{\"model\":\"m");
	for (i = 0; i < 300; i++)
		buf_adds(&b, "\xc3\xa9");
	buf_adds(&b, "\",\"error\":{\"message\":\"bad \xff\"}}");
	usage_init(&u, 10);
	usage_from_body(&u, b.data, b.len);
	CHECK(u.model && strlen(u.model) == 199);
	CHECK(u.model && utf8_is_text(u.model, strlen(u.model)));
	CHECK_STR(u.error_message, "bad \xef\xbf\xbd");
	usage_release(&u);
	buf_release(&b);
}

static void test_wrong_types(void)
{
	struct usage u;

	from_body(&u, "{\"model\":5,\"usage\":{\"prompt_tokens\":\"12\",\"total_tokens\":1.5,"
		  "\"prompt_tokens_details\":[1]},\"choices\":{\"index\":0},"
		  "\"error\":{\"message\":7}}");
	check_unset(&u);
	usage_release(&u);

	from_body(&u, "{\"choices\":[1,\"x\",null,{\"index\":\"0\",\"text\":\"no\"},"
		  "{\"index\":0,\"message\":[],\"delta\":7,\"text\":{},\"finish_reason\":1}],"
		  "\"usage\":null}");
	check_unset(&u);
	usage_release(&u);

	from_body(&u, "{\"object\":\"response\",\"output\":[null,1,{\"content\":{}},"
		  "{\"content\":[null,{\"type\":\"output_text\"},{\"type\":1}]}],"
		  "\"status\":null,\"usage\":[]}");
	check_unset(&u);
	usage_release(&u);
}

static void test_not_json(void)
{
	static const char *const bodies[] = {
		"", " ", "null", "[]", "\"text\"", "42", "true", "{", "}", "{\"model\":",
		"<html><body>502 Bad Gateway</body></html>", "{\"model\":\"x\"} trailing",
		"{\"model\":\"x\"}{\"model\":\"y\"}", "\xff\xfe{\"model\":\"x\"}",
		"[{\"model\":\"x\"}]", "data: {\"model\":\"x\"}",
	};
	struct usage u;
	size_t i;

	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		from_body(&u, bodies[i]);
		check_unset(&u);
		usage_release(&u);
	}
	usage_init(&u, 100);
	usage_from_body(&u, NULL, 0);
	usage_from_event(&u, NULL, 0, NULL, 0);
	usage_from_event(&u, "", 0, "[DONE]", 6);
	usage_from_event(&u, "", 0, " [DONE]\n", 8);
	usage_from_event(&u, "response.completed", 18, "{", 1);
	usage_from_event(&u, "response.completed", 18, "{\"response\":7}", 14);
	usage_from_event(&u, "response.output_text.delta", 26, "{\"delta\":null}", 14);
	check_unset(&u);
	usage_release(&u);
	usage_release(NULL);
}

/* A NUL byte ends nothing: the length does, and what follows it is junk. */
static void test_nul_bytes(void)
{
	static const char body[] = "{\"model\":\"gpt-4o\"}\0{\"x\":1}";
	static const char in_str[] = "{\"model\":\"gpt\0-4o\",\"usage\":{\"total_tokens\":3}}";
	struct usage u;

	usage_init(&u, 100);
	usage_from_body(&u, body, sizeof(body) - 1);
	check_unset(&u);
	usage_from_body(&u, in_str, sizeof(in_str) - 1);
	usage_from_event(&u, "", 0, in_str, sizeof(in_str) - 1);
	CHECK(u.model == NULL || strlen(u.model) <= 6);
	usage_release(&u);

	usage_init(&u, 100);
	usage_from_body(&u, body, 18);
	CHECK_STR(u.model, "gpt-4o");
	usage_release(&u);
}

/* Every prefix of a real body is invalid JSON and must set nothing. */
static void test_truncated(void)
{
	static const char *const bodies[] = { chat_body, response_body, error_body,
					      chat_tools_body };
	struct usage u;
	size_t i, k, n;
	int bad = 0;

	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		n = strlen(bodies[i]);
		while (n && bodies[i][n - 1] == '\n')
			n--;
		for (k = 0; k < n; k++) {
			char *copy = xmemdupz(bodies[i], k);

			usage_init(&u, 64);
			usage_from_body(&u, copy, k);
			usage_from_event(&u, "", 0, copy, k);
			if (u.model || u.reply.len || u.prompt_tokens != N || u.error_message)
				bad++;
			usage_release(&u);
			free(copy);
		}
	}
	CHECK(bad == 0);
}

static unsigned long rng_state = 88172645463325252UL;

static unsigned long rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Random bytes and mutated real bodies: run under ASan, nothing may crash. */
static void test_garbage(void)
{
	static const char *const seeds[] = { chat_body, response_body, chat_tools_body,
					     embeddings_body, completion_body };
	static const char *const events[] = { "", "response.completed",
					      "response.output_text.delta",
					      "response.output_item.added", "error" };
	struct usage u;
	char buf[2048];
	int i, j;

	for (i = 0; i < 20000; i++) {
		const char *seed = seeds[i % 5];
		size_t n = strlen(seed), k;

		if (n > sizeof(buf))
			n = sizeof(buf);
		memcpy(buf, seed, n);
		for (j = 0; j < 1 + (int)(rng() % 4); j++) {
			k = rng() % n;
			buf[k] = (i & 1) ? (char)rng() : "{}[]\",:0\\"[rng() % 9];
		}
		usage_init(&u, 32);
		usage_from_body(&u, buf, n);
		usage_from_event(&u, events[i % 5], strlen(events[i % 5]), buf, n);
		usage_from_request(&u, buf, n);
		usage_release(&u);
	}
	for (i = 0; i < 2000; i++) {
		size_t n = rng() % sizeof(buf), k;

		for (k = 0; k < n; k++)
			buf[k] = (char)rng();
		usage_init(&u, 32);
		usage_from_body(&u, buf, n);
		usage_from_event(&u, "", 0, buf, n);
		usage_release(&u);
	}
	CHECK(1);
}

static void test_deep_nesting(void)
{
	struct usage u;
	size_t n = 100000;
	char *deep = malloc(2 * n);

	memset(deep, '[', n);
	memset(deep + n, ']', n);
	usage_init(&u, 32);
	usage_from_body(&u, deep, 2 * n);
	check_unset(&u);
	usage_release(&u);
	free(deep);
}

int main(void)
{
	test_chat_completion();
	test_chat_tool_calls();
	test_chat_refusal();
	test_text_completion();
	test_responses_object();
	test_embeddings();
	test_error_body();
	test_chat_stream();
	test_chat_stream_without_usage();
	test_chat_stream_two_choices();
	test_chat_tool_stream();
	test_completion_stream();
	test_responses_stream();
	test_responses_stream_without_event_lines();
	test_responses_stream_tool_and_incomplete();
	test_responses_stream_failed();
	test_responses_completed_only();
	test_stream_errors();
	test_model_from_request();
	test_reply_cap();
	test_reply_is_text();
	test_long_fields();
	test_wrong_types();
	test_not_json();
	test_nul_bytes();
	test_truncated();
	test_garbage();
	test_deep_nesting();
	return check_done("test_usage");
}
