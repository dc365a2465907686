/* keymask.c - API key hints, fingerprints and masking of headers and queries. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "keymask.h"
#include "sha256.h"
#include "banned.h"

const char *key_from_auth(const char *v, size_t *n)
{
	const char *sp;

	while (*v == ' ')
		v++;
	sp = strchr(v, ' ');
	if (sp && ((sp - v == 6 && !strncasecmp(v, "Bearer", 6)) ||
		   (sp - v == 5 && !strncasecmp(v, "Basic", 5))))
		v = sp + 1;
	while (*v == ' ')
		v++;
	*n = strlen(v);
	while (*n && v[*n - 1] == ' ')
		(*n)--;
	return v;
}

void key_hint(const char *key, size_t n, char out[KEY_HINT_MAX])
{
	size_t pre = 0, i;

	if (n < 12) {
		snprintf(out, KEY_HINT_MAX, "…");
		return;
	}
	for (i = 0; i < 8 && i < n - 8; i++)
		if (key[i] == '-' || key[i] == '_')
			pre = i + 1;
	snprintf(out, KEY_HINT_MAX, "%.*s…%.4s", (int)pre, key, key + n - 4);
}

void key_fingerprint(const char *key, size_t n, char out[KEY_FINGERPRINT_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char d[32];
	int i;

	sha256(key, n, d);
	for (i = 0; i < KEY_FINGERPRINT_LEN / 2; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[KEY_FINGERPRINT_LEN] = '\0';
}

bool key_header(const char *name)
{
	return !strcasecmp(name, "Authorization") || !strcasecmp(name, "Api-Key") ||
	       !strcasecmp(name, "X-Api-Key") || !strcasecmp(name, "Proxy-Authorization");
}

void key_mask_value(const char *value, struct buf *out)
{
	char hint[KEY_HINT_MAX];
	size_t n;
	const char *key = key_from_auth(value, &n);

	key_hint(key, n, hint);
	buf_add(out, value, (size_t)(key - value));
	buf_adds(out, hint);
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* true if the parameter name, %-decoded (api%5Fkey is api_key), names a key. */
static bool key_param(const char *raw, size_t n)
{
	static const char *const names[] = { "api-key", "api_key", "apikey", "key",
					     "access_token", "token" };
	char name[32];
	size_t i, o = 0;

	for (i = 0; i < n && o < sizeof(name); i++) {
		if (raw[i] == '%' && i + 2 < n &&
		    hexval(raw[i + 1]) >= 0 && hexval(raw[i + 2]) >= 0) {
			name[o++] = (char)(hexval(raw[i + 1]) * 16 + hexval(raw[i + 2]));
			i += 2;
		} else {
			name[o++] = raw[i] == '+' ? ' ' : raw[i];
		}
	}
	if (i < n)
		return false; /* longer than any key name */
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == o && !strncasecmp(name, names[i], o))
			return true;
	return false;
}

void key_mask_query(const char *q, struct buf *out)
{
	char hint[KEY_HINT_MAX];

	while (*q) {
		size_t len = strcspn(q, "&");
		const char *eq = memchr(q, '=', len);

		if (eq && key_param(q, (size_t)(eq - q))) {
			buf_add(out, q, (size_t)(eq - q) + 1);
			key_hint(eq + 1, len - (size_t)(eq - q) - 1, hint);
			buf_adds(out, hint);
		} else {
			buf_add(out, q, len);
		}
		q += len;
		if (*q == '&')
			buf_addch(out, *q++);
	}
}
