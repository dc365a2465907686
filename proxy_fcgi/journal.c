/* journal.c - per-thread append-only capture journals, rotated by epoch. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "journal.h"
#include "log.h"
#include "row.h"
#include "xalloc.h"
#include "banned.h"

/* Epochs that may be waiting at once; the writer stops opening new ones
 * (appends then stay in the current one) while this many are unfinished. */
#define EPOCHS 256

struct journal {
	char *dir;
	char *spool_dir;
	atomic_long epoch;
	atomic_long pending[EPOCHS];  /* captures of each epoch not yet done */
	long oldest;                  /* oldest epoch with files (writer only) */
};

static const char magic[] = "CAPSPOOL1\n";

/* Moves journal files of processes that are gone into the spool. */
static void adopt_orphans(struct journal *j)
{
	DIR *d = opendir(j->dir);
	struct dirent *e;
	char from[4200], to[4200];
	long pid;
	int moved = 0;

	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || !strstr(e->d_name, ".cap"))
			continue;
		pid = strtol(e->d_name, NULL, 10);
		if (pid > 0 && pid != (long)getpid() && (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
			continue; /* a live process's journal */
		snprintf(from, sizeof(from), "%s/%s", j->dir, e->d_name);
		snprintf(to, sizeof(to), "%s/0000000000000000000-journal-%s", j->spool_dir, e->d_name);
		if (rename(from, to) == 0)
			moved++;
	}
	closedir(d);
	if (moved)
		log_warn("%d journal files of a process that died moved to the spool for replay", moved);
}

struct journal *journal_open(const char *spool_dir)
{
	struct journal *j = xcalloc(1, sizeof(*j));
	size_t n = strlen(spool_dir) + 16;

	j->dir = xmalloc(n);
	snprintf(j->dir, n, "%s/journal", spool_dir);
	j->spool_dir = xstrdup(spool_dir);
	if (mkdir(j->dir, 0700) < 0 && errno != EEXIST) {
		log_error("cannot create %s: %s; captures are not journaled", j->dir, strerror(errno));
		free(j->dir);
		free(j->spool_dir);
		free(j);
		return NULL;
	}
	adopt_orphans(j);
	return j;
}

static void file_path(const struct journal *j, long epoch, long tid, char *out, size_t n)
{
	snprintf(out, n, "%s/%ld-%08ld-%ld.cap", j->dir, (long)getpid(), epoch, tid);
}

/* Points f at epoch's file of this thread, creating it with the header. */
static int switch_file(struct journal *j, struct journal_file *f, long epoch)
{
	char path[4200];

	if (f->fd >= 0)
		close(f->fd);
	f->epoch = epoch;
	file_path(j, epoch, (long)syscall(SYS_gettid), path, sizeof(path));
	f->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (f->fd < 0) {
		log_error("journal: cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if (lseek(f->fd, 0, SEEK_END) == 0 && write(f->fd, magic, sizeof(magic) - 1) < 0)
		return -1;
	return 0;
}

/* Claims a slot in the current epoch. The epoch is read again after the
 * claim: if the writer moved on meanwhile it may already have judged the
 * old epoch finished, so the claim moves to the new one. */
static long claim_epoch(struct journal *j)
{
	for (;;) {
		long e = atomic_load(&j->epoch);

		atomic_fetch_add(&j->pending[e % EPOCHS], 1);
		if (atomic_load(&j->epoch) == e)
			return e;
		atomic_fetch_sub(&j->pending[e % EPOCHS], 1);
	}
}

void journal_append(struct journal *j, struct journal_file *f, struct capture *c)
{
	struct spool_row row;
	struct row_text text;
	unsigned char hdr[SPOOL_HDR_MAX];
	struct iovec iov[SPOOL_IOV_MAX];
	size_t total;
	int n;
	long e;

	c->journal_epoch = -1;
	if (!j)
		return;
	e = claim_epoch(j);
	if ((f->epoch != e || f->fd < 0) && switch_file(j, f, e) < 0) {
		atomic_fetch_sub(&j->pending[e % EPOCHS], 1);
		return;
	}
	row_fill(c, &text, &row);
	/* straight from the capture: no copy of the bodies into a record */
	n = spool_encode_iov(&row, hdr, iov, &total);
	if (writev(f->fd, iov, n) != (ssize_t)total)
		log_error("journal: write failed for capture %s: %s", c->id, strerror(errno));
	c->journal_epoch = e;
}

void journal_file_release(struct journal_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

void journal_done(struct journal *j, const struct capture *c)
{
	if (j && c->journal_epoch >= 0)
		atomic_fetch_sub(&j->pending[c->journal_epoch % EPOCHS], 1);
}

/* Deletes the files of one epoch (all = every epoch) of this process. */
static void delete_files(struct journal *j, long epoch, bool all)
{
	DIR *d = opendir(j->dir);
	struct dirent *e;
	char prefix[64], path[4200];
	size_t plen;

	if (!d)
		return;
	if (all)
		snprintf(prefix, sizeof(prefix), "%ld-", (long)getpid());
	else
		snprintf(prefix, sizeof(prefix), "%ld-%08ld-", (long)getpid(), epoch);
	plen = strlen(prefix);
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, prefix, plen))
			continue;
		snprintf(path, sizeof(path), "%s/%s", j->dir, e->d_name);
		unlink(path);
	}
	closedir(d);
}

void journal_rotate(struct journal *j)
{
	long cur;

	if (!j)
		return;
	cur = atomic_load(&j->epoch);
	if (cur + 1 - j->oldest < EPOCHS)
		atomic_store(&j->epoch, cur + 1);
	while (j->oldest < atomic_load(&j->epoch) &&
	       atomic_load(&j->pending[j->oldest % EPOCHS]) == 0) {
		delete_files(j, j->oldest, false);
		j->oldest++;
	}
}

void journal_close(struct journal *j)
{
	long e;

	if (!j)
		return;
	for (e = 0; e < EPOCHS; e++)
		if (atomic_load(&j->pending[e]))
			break;
	/* captures neither committed nor spooled stay for the next start */
	if (e == EPOCHS)
		delete_files(j, 0, true);
	free(j->dir);
	free(j->spool_dir);
	free(j);
}
