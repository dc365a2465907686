/* test_spool.c - spool files: round trip, order, damage, size limit. */
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "../../proxy_fcgi/spool.c"

struct seen {
	int rows;
	char first[64];
	int bin_len;
	int null_at_2;
};

static int collect(void *ctx, const struct spool_row *row)
{
	struct seen *s = ctx;

	if (s->rows++ == 0) {
		snprintf(s->first, sizeof(s->first), "%s", row->vals[0]);
		s->bin_len = row->lens[1];
		s->null_at_2 = row->vals[2] == NULL;
	}
	return 0;
}

static void make_row(struct spool_row *r, const char *id)
{
	static const char bin[] = { 'a', '\0', 'b', '\xff' };

	memset(r, 0, sizeof(*r));
	r->n = 4;
	r->vals[0] = id;
	r->vals[1] = bin;
	r->lens[1] = 4;
	r->fmts[1] = 1;
	r->vals[2] = NULL;
	r->vals[3] = "";
}

static void test_round_trip(const char *dir)
{
	struct spool_row r;
	struct buf rows, data;
	struct seen s = { 0 };
	char *first, *second;

	buf_init(&rows, BUF_NO_CAP);
	make_row(&r, "row-one");
	spool_encode(&rows, &r);
	make_row(&r, "row-two");
	spool_encode(&rows, &r);
	CHECK(spool_save(dir, &rows, 1L << 30) == 0);
	CHECK(spool_save(dir, &rows, 1L << 30) == 0);
	CHECK(spool_bytes(dir) > 2 * (long)rows.len);
	first = spool_oldest(dir);
	CHECK(first != NULL);
	buf_init(&data, BUF_NO_CAP);
	CHECK(spool_read(first, &data, collect, &s) == 0);
	CHECK(s.rows == 2);
	CHECK_STR(s.first, "row-one");
	CHECK(s.bin_len == 4);
	CHECK(s.null_at_2);
	buf_release(&data);
	unlink(first);
	second = spool_oldest(dir);
	CHECK(second && strcmp(first, second) != 0);
	/* a full spool refuses more */
	CHECK(spool_save(dir, &rows, 10) == -1);
	unlink(second);
	CHECK(spool_oldest(dir) == NULL);
	free(first);
	free(second);
	buf_release(&rows);
}

static void test_damage(const char *dir)
{
	struct spool_row r;
	struct buf rows, data;
	struct seen s = { 0 };
	char *path;

	buf_init(&rows, BUF_NO_CAP);
	make_row(&r, "whole");
	spool_encode(&rows, &r);
	spool_encode(&rows, &r);
	rows.len -= 3; /* cut inside the second row */
	CHECK(spool_save(dir, &rows, 1L << 30) == 0);
	path = spool_oldest(dir);
	buf_init(&data, BUF_NO_CAP);
	CHECK(spool_read(path, &data, collect, &s) == -1);
	CHECK(s.rows == 1);
	buf_release(&data);
	unlink(path);
	free(path);
	buf_release(&rows);
}

/* The iovec encoding (the journal's) holds exactly spool_encode's bytes,
 * with NULLs in a row, binary bytes, empty text and a value at the end. */
static void test_encode_iov(void)
{
	static const char *const texts[] = { "id", NULL, NULL, "", "long text value", NULL };
	static const char bin[] = { 0, 1, 2, '\xff' };
	struct spool_row r;
	struct buf want, got;
	unsigned char hdr[SPOOL_HDR_MAX];
	struct iovec iov[SPOOL_IOV_MAX];
	size_t total = 0;
	int i, n;

	memset(&r, 0, sizeof(r));
	r.n = 8;
	for (i = 0; i < 6; i++)
		r.vals[i] = texts[i];
	r.vals[6] = bin;
	r.lens[6] = 4;
	r.fmts[6] = 1;
	r.vals[7] = "last";
	buf_init(&want, BUF_NO_CAP);
	buf_init(&got, BUF_NO_CAP);
	spool_encode(&want, &r);
	n = spool_encode_iov(&r, hdr, iov, &total);
	CHECK(n > 0 && n <= SPOOL_IOV_MAX);
	for (i = 0; i < n; i++)
		buf_add(&got, iov[i].iov_base, iov[i].iov_len);
	CHECK(total == want.len);
	CHECK(got.len == want.len && !memcmp(got.data, want.data, want.len));
	CHECK(n < 1 + 2 * r.n); /* the headers around the NULLs share iovecs */
	buf_release(&want);
	buf_release(&got);
}

int main(void)
{
	char dir[] = "/tmp/test_spool.XXXXXX";

	CHECK(mkdtemp(dir) != NULL);
	CHECK(spool_init(dir) == 0);
	test_round_trip(dir);
	test_damage(dir);
	test_encode_iov();
	rmdir(dir);
	return check_done("test_spool");
}
