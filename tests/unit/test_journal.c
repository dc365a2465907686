/* test_journal.c - journal files: written per epoch, deleted once done, orphans adopted. */
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "../../proxy_fcgi/journal.c"

static int count_files(const char *dir, const char *suffix)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (strstr(e->d_name, suffix))
			n++;
	closedir(d);
	return n;
}

static struct capture *finished_capture(void)
{
	struct capture *c = capture_new(1024);

	c->method = xstrdup("POST");
	c->path = xstrdup("/v1/chat/completions");
	buf_adds(&c->req_body, "{\"model\":\"gpt-4o\"}");
	capture_finish(c);
	return c;
}

static void test_epochs(const char *spool)
{
	struct journal *j = journal_open(spool);
	struct journal_file f = JOURNAL_FILE_INIT;
	char jdir[4200];
	struct capture *a = finished_capture(), *b = finished_capture();

	CHECK(j != NULL);
	snprintf(jdir, sizeof(jdir), "%s/journal", spool);
	journal_append(j, &f, a);
	CHECK(a->journal_epoch == 0);
	CHECK(count_files(jdir, ".cap") == 1);
	journal_rotate(j);              /* epoch 1; epoch 0 still holds a */
	journal_append(j, &f, b);
	CHECK(b->journal_epoch == 1);
	CHECK(count_files(jdir, ".cap") == 2);
	journal_rotate(j);
	CHECK(count_files(jdir, ".cap") == 2); /* nothing done yet */
	journal_done(j, a);
	journal_rotate(j);
	CHECK(count_files(jdir, ".cap") == 1); /* epoch 0 deleted */
	journal_done(j, b);
	journal_rotate(j);
	CHECK(count_files(jdir, ".cap") == 0);
	journal_file_release(&f);
	journal_close(j);
	capture_free(a);
	capture_free(b);
}

static int count_row(void *ctx, const struct spool_row *row)
{
	struct buf *ids = ctx;

	buf_adds(ids, row->vals[0]);
	buf_addch(ids, row->n == ROW_NPARAMS ? ';' : '!');
	return 0;
}

/* Records appended one after the other (the thread's encoding buffer is
 * reused) read back whole, in order, with the spool reader. */
static void test_records_read_back(const char *spool)
{
	struct journal *j = journal_open(spool);
	struct journal_file f = JOURNAL_FILE_INIT;
	struct capture *a = finished_capture(), *b = finished_capture();
	struct buf ids, data, want;
	char path[4200];
	DIR *d;
	struct dirent *e;

	journal_append(j, &f, a);
	journal_append(j, &f, b);
	snprintf(path, sizeof(path), "%s/journal", spool);
	d = opendir(path);
	while ((e = readdir(d)) != NULL)
		if (strstr(e->d_name, ".cap"))
			snprintf(path, sizeof(path), "%s/journal/%.200s", spool, e->d_name);
	closedir(d);
	buf_init(&ids, BUF_NO_CAP);
	buf_init(&data, BUF_NO_CAP);
	buf_init(&want, BUF_NO_CAP);
	buf_addf(&want, "%s;%s;", a->id, b->id);
	CHECK(spool_read(path, &data, count_row, &ids) == 0);
	CHECK_STR(ids.data, want.data);
	journal_done(j, a);
	journal_done(j, b);
	journal_rotate(j);
	journal_rotate(j);
	journal_file_release(&f);
	journal_close(j);
	buf_release(&ids);
	buf_release(&data);
	buf_release(&want);
	capture_free(a);
	capture_free(b);
}

/* A journal left by a dead process moves into the spool, whole. */
static void test_orphans(const char *spool)
{
	struct journal *j;
	struct journal_file f = JOURNAL_FILE_INIT;
	char from[4200], to[4200];
	struct capture *c = finished_capture();

	j = journal_open(spool);
	journal_append(j, &f, c);       /* never done: as if we crashed */
	journal_file_release(&f);
	journal_close(j);               /* keeps files with pending captures */
	snprintf(from, sizeof(from), "%s/journal", spool);
	CHECK(count_files(from, ".cap") == 1);
	/* rename it as if written by a process that no longer exists */
	{
		DIR *d = opendir(from);
		struct dirent *e;

		while ((e = readdir(d)) != NULL) {
			if (!strstr(e->d_name, ".cap"))
				continue;
			char dead[4200];

			snprintf(to, sizeof(to), "%s/journal/%.200s", spool, e->d_name);
			snprintf(dead, sizeof(dead), "%s/journal/999999999-00000000-1.cap", spool);
			CHECK(rename(to, dead) == 0);
			break;
		}
		closedir(d);
	}
	j = journal_open(spool);
	snprintf(to, sizeof(to), "%s/journal", spool);
	CHECK(count_files(to, ".cap") == 0);
	CHECK(count_files(spool, "-journal-") == 1);
	journal_close(j);
	capture_free(c);
}

int main(void)
{
	char dir[] = "/tmp/test_journal.XXXXXX";

	CHECK(mkdtemp(dir) != NULL);
	test_epochs(dir);
	test_records_read_back(dir);
	test_orphans(dir);
	return check_done("test_journal");
}
