/* fuzz_config.c - config.env parsing, key masking, UTF-8 checks and JSON strings on hostile bytes.
 *
 * One input feeds every target:
 *   config_load     the input is the config.env file (read via a memfd);
 *   config_set      its first line "NAME=VALUE", and VALUE for every option;
 *   key_mask_query  its first line as a query string; key_mask_value too;
 *   utf8_*          the input, against a reference decoder written here;
 *   json_add_string the input, parsed back with json-c.
 * Properties: options that load are in range; a masked query or header keeps
 * at most a 15-byte hint of each key, never its middle; utf8_is_text agrees
 * with the reference, utf8_sanitize yields text and keeps text unchanged,
 * utf8_floor finds the last character boundary; json_add_string yields one
 * JSON string, jsonb-safe, that decodes to the sanitized input. */
#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "jsonstr.h"
#include "keymask.h"
#include "utf8.h"
#include "fuzz.h"
#include "banned.h"

/* "…" as key_hint writes it; a hint is at most 8 + 3 + 4 bytes. */
#define ELLIPSIS "\xe2\x80\xa6"
#define HINT_LONGEST 15

/* Every option's name, read from config_print_shell so the list follows
 * config.c's table. */
#define OPTIONS_MAX 128
static char *option_names[OPTIONS_MAX + 1];

static int config_fd = -1;
static char config_path[64];
static FILE *devnull;

static void read_option_names(void)
{
	struct config c;
	char err[256], *text = NULL, *line, *eq;
	size_t len = 0, n = 0;
	FILE *f = open_memstream(&text, &len);

	FUZZ_CHECK(f != NULL);
	if (config_load(&c, NULL, false, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_config: the environment sets a bad option: %s\n", err);
		abort();
	}
	config_print_shell(&c, f, true);
	fclose(f);
	config_release(&c);
	for (line = text; line && *line && n < OPTIONS_MAX; line = strchr(line, '\n')) {
		if (*line == '\n')
			line++;
		eq = strchr(line, '=');
		if (!eq)
			break;
		option_names[n++] = strndup(line, (size_t)(eq - line));
		/* skip a quoted value that spans lines */
		line = eq + 1;
		if (*line == '\'')
			line = strchr(line + 1, '\'');
		if (!line)
			break;
	}
	free(text);
	FUZZ_CHECK(n > 10);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char *const *n;

	(void)argc;
	(void)argv;
	read_option_names();
	/* the environment would win over the file and hide it */
	for (n = option_names; *n; n++)
		unsetenv(*n);
	/* a file without a disk: reopened by path, as config_load does */
	config_fd = memfd_create("fuzz-config.env", 0);
	FUZZ_CHECK(config_fd >= 0);
	snprintf(config_path, sizeof(config_path), "/proc/self/fd/%d", config_fd);
	devnull = fopen("/dev/null", "w");
	FUZZ_CHECK(devnull != NULL);
	return 0;
}

static void check_loaded(const struct config *c)
{
	size_t n = strlen(c->openai_api_base);

	FUZZ_CHECK(n > 0 && c->openai_api_base[n - 1] != '/');
	FUZZ_CHECK(c->proxy_port >= 1 && c->proxy_port <= 65535);
	FUZZ_CHECK(c->web_port >= 1 && c->web_port <= 65535);
	FUZZ_CHECK(c->page_size >= 1 && c->page_size <= 500);
	FUZZ_CHECK(c->proxy_threads >= 1 && c->proxy_threads <= 1024);
	FUZZ_CHECK(c->capture_body_max >= 0 && c->max_request_body >= 1);
	FUZZ_CHECK(c->log_level >= 0 && c->log_level <= 3);
	FUZZ_CHECK(*c->proxy_host && *c->web_host);
}

static void fuzz_config_load(const uint8_t *data, size_t size)
{
	struct config c;
	char err[256];

	FUZZ_CHECK(ftruncate(config_fd, 0) == 0);
	FUZZ_CHECK(pwrite(config_fd, data, size, 0) == (ssize_t)size);
	err[0] = '\0';
	if (config_load(&c, config_path, true, err, sizeof(err)) == 0) {
		check_loaded(&c);
		config_print_shell(&c, devnull, true);
	} else {
		FUZZ_CHECK(err[0] != '\0' && memchr(err, '\0', sizeof(err)));
	}
	config_release(&c);
}

/* name=value from the first line: the named option, then every option. */
static void fuzz_config_set(const char *line)
{
	struct config c;
	char err[256], *name = strdup(line), *value;
	char *const *n;
	long size;

	FUZZ_CHECK(name != NULL);
	value = strchr(name, '=');
	value = value ? (*value = '\0', value + 1) : name + strlen(name);
	FUZZ_CHECK(config_load(&c, NULL, false, err, sizeof(err)) == 0);
	if (config_set(&c, name, value, err, sizeof(err)))
		FUZZ_CHECK(err[0] != '\0');
	for (n = option_names; *n; n++) {
		err[0] = '\0';
		if (config_set(&c, *n, value, err, sizeof(err)))
			FUZZ_CHECK(strstr(err, *n) != NULL);
	}
	check_loaded(&c);
	config_print_shell(&c, devnull, false);
	size = config_parse_size(value);
	FUZZ_CHECK(size >= -1);
	config_release(&c);
	free(name);
}

static bool key_param_ref(const char *name, size_t n)
{
	static const char *const names[] = { "api-key", "api_key", "apikey", "key",
					     "access_token", "token", NULL };
	const char *const *k;

	for (k = names; *k; k++)
		if (strlen(*k) == n && !strncasecmp(name, *k, n))
			return true;
	return false;
}

/* hint[0..hn) shows key[0..n): short, and without the key's middle. A middle
 * of 9+ bytes cannot hide in the 8-byte prefix or 4-byte suffix; one with an
 * 0xe2 byte could match across the "…", so it is not judged. */
static void check_hint(const char *key, size_t n, const char *hint, size_t hn)
{
	FUZZ_CHECK(hn <= HINT_LONGEST && hn < KEY_HINT_MAX);
	FUZZ_CHECK(memmem(hint, hn, ELLIPSIS, 3) != NULL);
	if (n < 12)
		FUZZ_CHECK(hn == 3);
	if (n >= 12 + 9 && !memchr(key + 8, 0xe2, n - 12))
		FUZZ_CHECK(!memmem(hint, hn, key + 8, n - 12));
}

/* Output segments match input segments one to one ('&' never appears in a
 * hint): key parameters carry a hint, the rest pass unchanged. */
static void check_mask_query(const char *q)
{
	struct buf out;
	const char *in = q, *o, *eq;
	size_t ilen, olen;

	buf_init(&out, BUF_NO_CAP);
	key_mask_query(q, &out);
	fuzz_check_buf(&out);
	o = out.data ? out.data : "";
	for (;;) {
		ilen = strcspn(in, "&");
		olen = strcspn(o, "&");
		eq = memchr(in, '=', ilen);
		if (eq && key_param_ref(in, (size_t)(eq - in))) {
			size_t name_len = (size_t)(eq - in) + 1;

			FUZZ_CHECK(olen >= name_len && !memcmp(o, in, name_len));
			check_hint(eq + 1, ilen - name_len, o + name_len, olen - name_len);
		} else {
			FUZZ_CHECK(olen == ilen && !memcmp(o, in, ilen));
		}
		in += ilen;
		o += olen;
		FUZZ_CHECK(*in == *o);
		if (!*in)
			break;
		in++, o++;
	}
	buf_release(&out);
}

static void check_mask_value(const char *value)
{
	struct buf out;
	size_t n, pre, i;
	const char *key = key_from_auth(value, &n);
	char fp[KEY_FINGERPRINT_LEN + 1];

	key_fingerprint(key, n, fp);
	FUZZ_CHECK(strlen(fp) == KEY_FINGERPRINT_LEN);
	for (i = 0; i < KEY_FINGERPRINT_LEN; i++)
		FUZZ_CHECK(strchr("0123456789abcdef", fp[i]) && fp[i]);
	(void)key_header(value);

	FUZZ_CHECK(key >= value && key + n <= value + strlen(value));
	pre = (size_t)(key - value);
	buf_init(&out, BUF_NO_CAP);
	key_mask_value(value, &out);
	FUZZ_CHECK(out.len >= pre && !memcmp(out.data, value, pre));
	check_hint(key, n, out.data + pre, out.len - pre);
	buf_release(&out);
}

/* RFC 3629 decoding, written out the long way to check utf8.c against. */
static bool utf8_ref(const unsigned char *p, size_t n)
{
	size_t i = 0, j, k;
	unsigned long cp, min;

	while (i < n) {
		if (p[i] == 0)
			return false;
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((p[i] & 0xe0) == 0xc0)
			k = 2, cp = p[i] & 0x1f, min = 0x80;
		else if ((p[i] & 0xf0) == 0xe0)
			k = 3, cp = p[i] & 0x0f, min = 0x800;
		else if ((p[i] & 0xf8) == 0xf0)
			k = 4, cp = p[i] & 0x07, min = 0x10000;
		else
			return false;
		if (n - i < k)
			return false;
		for (j = 1; j < k; j++) {
			if ((p[i + j] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i + j] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += k;
	}
	return true;
}

static void check_utf8(const char *s, size_t n, uint64_t *rng)
{
	const unsigned char *p = (const unsigned char *)s;
	bool text = utf8_is_text(s, n);
	struct buf clean;
	size_t k, m, b;

	FUZZ_CHECK(text == utf8_ref(p, n));
	buf_init(&clean, BUF_NO_CAP);
	utf8_sanitize(s, n, &clean);
	FUZZ_CHECK(utf8_is_text(clean.data, clean.len));
	FUZZ_CHECK(clean.len >= n);
	if (text)
		FUZZ_CHECK(clean.len == n && (n == 0 || !memcmp(clean.data, s, n)));
	buf_release(&clean);

	k = n ? fuzz_next(rng) % (n + 1) : 0;
	m = utf8_floor(s, k);
	FUZZ_CHECK(m <= k && m + 3 >= k);
	if (text) {
		/* the last boundary at or before k */
		for (b = k; b > 0 && b < n && (p[b] & 0xc0) == 0x80; b--)
			;
		FUZZ_CHECK(m == b);
		FUZZ_CHECK(utf8_is_text(s, m));
		FUZZ_CHECK(utf8_floor(s, n) == n);
	}
}

static void check_json_string(const char *s, size_t n)
{
	struct buf out, clean;
	json_object *o;

	buf_init(&out, BUF_NO_CAP);
	buf_init(&clean, BUF_NO_CAP);
	json_add_string(&out, s, n);
	utf8_sanitize(s, n, &clean);
	FUZZ_CHECK(utf8_is_text(out.data, out.len));
	fuzz_check_json_escapes(out.data, out.len);
	o = fuzz_json_parse(out.data, out.len);
	fuzz_check_json_string(o);
	FUZZ_CHECK((size_t)json_object_get_string_len(o) == clean.len);
	FUZZ_CHECK(clean.len == 0 || !memcmp(json_object_get_string(o), clean.data, clean.len));
	json_object_put(o);
	buf_release(&out);
	buf_release(&clean);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t rng = fuzz_hash(data, size);
	const char *nl = memchr(data, '\n', size);
	char *line = strndup((const char *)data, nl ? (size_t)(nl - (const char *)data) : size);

	FUZZ_CHECK(line != NULL);
	fuzz_config_load(data, size);
	fuzz_config_set(line);
	check_mask_query(line);
	check_mask_value(line);
	check_utf8((const char *)data, size, &rng);
	check_json_string((const char *)data, size);
	free(line);
	return 0;
}
