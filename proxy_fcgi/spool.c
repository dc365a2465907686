/* spool.c - durable files of insert parameters for replay into PostgreSQL. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "spool.h"
#include "xalloc.h"
#include "banned.h"

static const char magic[] = "CAPSPOOL1\n";
#define MAGIC_LEN (sizeof(magic) - 1)

int spool_init(const char *dir)
{
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

static void put_u32(struct buf *b, uint32_t v)
{
	unsigned char p[4] = { (unsigned char)v, (unsigned char)(v >> 8),
			       (unsigned char)(v >> 16), (unsigned char)(v >> 24) };

	buf_add(b, p, 4);
}

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void spool_encode(struct buf *out, const struct spool_row *row)
{
	int i;

	put_u32(out, (uint32_t)row->n);
	for (i = 0; i < row->n; i++) {
		const char *v = row->vals[i];
		/* text keeps its NUL: libpq reads text parameters as C strings */
		int len = !v ? -1 : row->fmts[i] ? row->lens[i] : (int)strlen(v) + 1;

		buf_addch(out, (char)(row->fmts[i] ? 1 : 0));
		put_u32(out, (uint32_t)len);
		if (len > 0)
			buf_add(out, v, (size_t)len);
	}
}

static void set_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

int spool_encode_iov(const struct spool_row *row, unsigned char *hdr, struct iovec *iov,
		     size_t *total)
{
	int i, k = 0;
	size_t sum = 4;

	set_u32(hdr, (uint32_t)row->n);
	iov[k].iov_base = hdr;
	iov[k++].iov_len = 4;
	hdr += 4;
	for (i = 0; i < row->n; i++) {
		const char *v = row->vals[i];
		int len = !v ? -1 : row->fmts[i] ? row->lens[i] : (int)strlen(v) + 1;

		hdr[0] = row->fmts[i] ? 1 : 0;
		set_u32(hdr + 1, (uint32_t)len);
		/* a header follows the previous header directly when no bytes
		 * came between: extend that iovec rather than add one */
		if (iov[k - 1].iov_base == (char *)hdr - iov[k - 1].iov_len)
			iov[k - 1].iov_len += 5;
		else {
			iov[k].iov_base = hdr;
			iov[k++].iov_len = 5;
		}
		sum += 5;
		hdr += 5;
		if (len > 0) {
			iov[k].iov_base = (void *)v;
			iov[k++].iov_len = (size_t)len;
			sum += (size_t)len;
		}
	}
	*total = sum;
	return k;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Names sort by creation time: nanoseconds since the epoch, then pid. */
static void spool_name(const char *dir, const char *suffix, char *out, size_t n)
{
	static unsigned seq;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(out, n, "%s/%010lld%09ld-%d-%u%s", dir, (long long)ts.tv_sec, ts.tv_nsec,
		 (int)getpid(), __atomic_fetch_add(&seq, 1, __ATOMIC_RELAXED), suffix);
}

int spool_save(const char *dir, const struct buf *rows, long max_bytes)
{
	char tmp[4200], final[4096];
	int fd, rc = -1;

	if (spool_bytes(dir) + (long)rows->len > max_bytes) {
		log_error("spool %s is full (SPOOL_MAX %ld bytes)", dir, max_bytes);
		return -1;
	}
	spool_name(dir, ".cap", final, sizeof(final));
	snprintf(tmp, sizeof(tmp), "%s.tmp", final);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		log_error("spool: cannot create %s: %s", tmp, strerror(errno));
		return -1;
	}
	if (write_all(fd, magic, MAGIC_LEN) == 0 && write_all(fd, rows->data, rows->len) == 0 &&
	    fsync(fd) == 0)
		rc = 0;
	else
		log_error("spool: cannot write %s: %s", tmp, strerror(errno));
	close(fd);
	if (rc == 0 && rename(tmp, final) < 0) {
		log_error("spool: cannot rename %s: %s", tmp, strerror(errno));
		rc = -1;
	}
	if (rc < 0)
		unlink(tmp);
	return rc;
}

static bool is_spool_file(const char *name)
{
	size_t n = strlen(name);

	return n > 4 && !strcmp(name + n - 4, ".cap") && name[0] != '.';
}

char *spool_oldest(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char *best = NULL, *path;

	if (!d)
		return NULL;
	while ((e = readdir(d)) != NULL) {
		if (!is_spool_file(e->d_name))
			continue;
		if (!best || strcmp(e->d_name, best) < 0) {
			free(best);
			best = xstrdup(e->d_name);
		}
	}
	closedir(d);
	if (!best)
		return NULL;
	path = xmalloc(strlen(dir) + strlen(best) + 2);
	snprintf(path, strlen(dir) + strlen(best) + 2, "%s/%s", dir, best);
	free(best);
	return path;
}

long spool_bytes(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	struct stat st;
	char path[4096];
	long total = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) != NULL) {
		if (!is_spool_file(e->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &st) == 0)
			total += (long)st.st_size;
	}
	closedir(d);
	return total;
}

static int read_file(const char *path, struct buf *data)
{
	char chunk[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		buf_add(data, chunk, (size_t)n);
	close(fd);
	return n < 0 ? -1 : 0;
}

/* Decodes the row at *pos; -1 if the bytes there are not a whole row. */
static int decode_row(const struct buf *data, size_t *pos, struct spool_row *row)
{
	const unsigned char *p = (const unsigned char *)data->data;
	size_t at = *pos, end = data->len;
	uint32_t n, i;

	if (end - at < 4 || (n = get_u32(p + at)) > SPOOL_MAX_PARAMS)
		return -1;
	at += 4;
	row->n = (int)n;
	for (i = 0; i < n; i++) {
		int32_t len;

		if (end - at < 5)
			return -1;
		row->fmts[i] = p[at] ? 1 : 0;
		len = (int32_t)get_u32(p + at + 1);
		at += 5;
		if (len < -1 || (len > 0 && (size_t)len > end - at) ||
		    (!row->fmts[i] && (len == 0 || (len > 0 && p[at + (size_t)len - 1]))))
			return -1;
		row->vals[i] = len < 0 ? NULL : data->data + at;
		row->lens[i] = len < 0 ? 0 : len;
		if (len > 0)
			at += (size_t)len;
	}
	*pos = at;
	return 0;
}

int spool_read(const char *path, struct buf *data,
	       int (*fn)(void *ctx, const struct spool_row *row), void *ctx)
{
	struct spool_row row;
	size_t pos = MAGIC_LEN;
	int rc = 0;

	if (read_file(path, data) < 0 || data->len < MAGIC_LEN ||
	    memcmp(data->data, magic, MAGIC_LEN))
		return -1;
	while (pos < data->len && rc == 0) {
		if (decode_row(data, &pos, &row) < 0)
			return -1;
		rc = fn(ctx, &row);
	}
	return rc;
}
