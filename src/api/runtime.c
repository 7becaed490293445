// SPDX-License-Identifier: MIT
/*
 * The runtime registry: how `mvm ls/stat/...` find the VMMs of this host.
 *
 * <rundir> is $XDG_RUNTIME_DIR/mvm if XDG_RUNTIME_DIR is set, else /run/mvm.
 * Each VMM owns <rundir>/<id>.json: {"id", "pid", "start_time", "socket"}.
 * It is written to a temporary name and link()ed into place, so readers
 * never see half an entry and two VMMs cannot both take an id. An entry is
 * stale when its pid is gone, or was reused (its start time, field 22 of
 * /proc/<pid>/stat, differs): such entries are replaced by runtime_register()
 * and removed by runtime_list().
 *
 * Not in libmvm's vm_create(): a VMM started with --api-sock registers when
 * it starts, before any VM exists; `mvm run` registers before vm_boot(),
 * with the id it then gives the VM as its name, so the identity is still
 * reserved before anything costly is built (DESIGN.md §1.1).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "mvm/compiler.h"
#include "mvm/control.h"
#include "mvm/log.h"

int runtime_dir(char *buf, size_t len)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	struct stat st;
	int n;

	if (xdg && *xdg) {
		n = snprintf(buf, len, "%s/mvm", xdg);
	} else {
		n = snprintf(buf, len, "/run/mvm");
	}
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -errno;
	/*
	 * Entries and sockets are trusted by path: the directory must be ours
	 * and nobody else's to write in (a shared /tmp-like directory would let
	 * another user plant symlinks or entries), and not a symlink itself.
	 */
	if (lstat(buf, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022)) {
		static atomic_bool said;

		if (!atomic_exchange(&said, true))
			pr_err("runtime directory %s: refused: it must be a directory owned by uid "
			       "%u "
			       "and writable by nobody else (it is %s, uid %u, mode %04o)",
			       buf, (unsigned int)geteuid(),
			       S_ISDIR(st.st_mode)   ? "a directory"
			       : S_ISLNK(st.st_mode) ? "a symlink"
						     : "not a directory",
			       (unsigned int)st.st_uid, (unsigned int)(st.st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

static bool id_valid(const char *id)
{
	size_t n = id ? strlen(id) : 0;

	return n > 0 && n < MVM_RUNTIME_ID_SIZE && id[0] != '.' && !strchr(id, '/');
}

static int entry_path(const char *id, const char *suffix, char *buf, size_t len)
{
	char dir[256];
	int err, n;

	if (!id_valid(id))
		return -EINVAL;
	err = runtime_dir(dir, sizeof(dir));
	if (err)
		return err;
	n = snprintf(buf, len, "%s/%s%s", dir, id, suffix);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

int runtime_sock_path(const char *id, char *buf, size_t len)
{
	return entry_path(id, ".sock", buf, MIN(len, sizeof(((struct runtime_entry *)0)->sock)));
}

/* The start time of pid in clock ticks since boot (0 if unknown). */
static unsigned long long pid_start_time(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long t = 0;
	ssize_t n;
	int fd, field;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* comm (field 2) may hold spaces and parentheses: count from the last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return 0;
	for (field = 2; *p && field < 22; p++)
		if (*p == ' ')
			field++;
	sscanf(p, "%llu", &t);
	return t;
}

static bool pid_alive(pid_t pid, unsigned long long start_time)
{
	if (pid <= 0 || (kill(pid, 0) < 0 && errno == ESRCH))
		return false;
	/* Same pid, another process: the VMM died and its pid was reused. */
	return !start_time || pid_start_time(pid) == start_time;
}

/* Reads an entry file. 0, -ENOENT, -EINVAL (malformed); *alive tells staleness. */
static int entry_read(const char *path, struct runtime_entry *e, bool *alive)
{
	json_t *j, *id, *pid, *sock, *st;
	json_error_t jerr;
	struct stat sb;
	int err = -EINVAL, fd;

	/* Only a regular file: a planted symlink or FIFO is malformed, never followed or waited on.
	 */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ENOENT : -EINVAL;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	j = json_loadfd(fd, 0, &jerr);
	close(fd);
	if (!j)
		return -EINVAL;
	id = json_object_get(j, "id");
	pid = json_object_get(j, "pid");
	sock = json_object_get(j, "socket");
	st = json_object_get(j, "start_time");
	if (json_is_string(id) && json_is_integer(pid) && json_is_string(sock) &&
	    strlen(json_string_value(id)) < sizeof(e->id) &&
	    strlen(json_string_value(sock)) < sizeof(e->sock)) {
		memset(e, 0, sizeof(*e));
		snprintf(e->id, sizeof(e->id), "%s", json_string_value(id));
		snprintf(e->sock, sizeof(e->sock), "%s", json_string_value(sock));
		e->pid = (pid_t)json_integer_value(pid);
		*alive = pid_alive(e->pid, json_is_integer(st)
						   ? (unsigned long long)json_integer_value(st)
						   : 0);
		err = 0;
	}
	json_decref(j);
	return err;
}

int runtime_register(const char *id, const char *sock_path)
{
	char path[512], tmp[512], abs_sock[sizeof(((struct runtime_entry *)0)->sock)];
	struct runtime_entry old;
	bool alive = false;
	json_t *j;
	int err, tries, fd;

	if (!sock_path)
		return -EINVAL;
	/* Clients run from anywhere: a relative socket path is made absolute. */
	if (sock_path[0] && sock_path[0] != '/') {
		char cwd[PATH_MAX];

		if (!getcwd(cwd, sizeof(cwd)) || snprintf(abs_sock, sizeof(abs_sock), "%s/%s", cwd,
							  sock_path) >= (int)sizeof(abs_sock))
			return -ENAMETOOLONG;
		sock_path = abs_sock;
	}
	if (strlen(sock_path) >= sizeof(old.sock))
		return -ENAMETOOLONG;
	err = entry_path(id, ".json", path, sizeof(path));
	if (err)
		return err;
	/* mkstemp: a fresh name, O_EXCL (never a planted file or symlink), mode 0600. */
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	fchmod(fd, 0600);
	j = json_pack("{s:s, s:i, s:I, s:s}", "id", id, "pid", (int)getpid(), "start_time",
		      (json_int_t)pid_start_time(getpid()), "socket", sock_path);
	err = !j ? -ENOMEM : json_dumpfd(j, fd, JSON_COMPACT) ? -EIO : 0;
	json_decref(j);
	close(fd);
	if (err) {
		unlink(tmp);
		return err;
	}
	/* link() fails with EEXIST if the id is taken: then only a stale entry may go. */
	for (tries = 0; tries < 2; tries++) {
		if (link(tmp, path) == 0) {
			err = 0;
			break;
		}
		err = -errno;
		if (err != -EEXIST)
			break;
		if (entry_read(path, &old, &alive) == 0 && alive) {
			pr_err("a VMM with id '%s' runs already (pid %d, socket %s)", id,
			       (int)old.pid, old.sock);
			break;
		}
		pr_info("removing the stale runtime entry %s", path);
		unlink(path);
	}
	unlink(tmp);
	return err;
}

void runtime_unregister(const char *id)
{
	struct runtime_entry e;
	char path[512];
	bool alive;

	if (entry_path(id, ".json", path, sizeof(path)))
		return;
	/* Only our own entry: another process may have taken the id since. */
	if (entry_read(path, &e, &alive) == 0 && e.pid == getpid())
		unlink(path);
}

int runtime_lookup(const char *id, struct runtime_entry *e)
{
	char path[512];
	bool alive = false;
	int err;

	err = entry_path(id, ".json", path, sizeof(path));
	if (err)
		return err == -EINVAL ? -ENOENT : err;
	err = entry_read(path, e, &alive);
	if (err)
		return -ENOENT;
	return alive ? 0 : -ENOENT;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int runtime_list(int (*fn)(void *opaque, const struct runtime_entry *e), void *opaque)
{
	char dir[256], path[512];
	char **names = NULL;
	size_t nr = 0, cap = 0, i;
	struct dirent *de;
	int err, count = 0;
	DIR *d;

	err = runtime_dir(dir, sizeof(dir));
	if (err)
		return err;
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);

		if (n <= 5 || strcmp(de->d_name + n - 5, ".json") || de->d_name[0] == '.')
			continue;
		if (nr == cap) {
			char **nn = reallocarray(names, cap ? cap * 2 : 16, sizeof(*names));

			if (!nn) {
				err = -ENOMEM;
				break;
			}
			names = nn;
			cap = cap ? cap * 2 : 16;
		}
		names[nr] = strdup(de->d_name);
		if (!names[nr]) {
			err = -ENOMEM;
			break;
		}
		nr++;
	}
	closedir(d);
	if (!err)
		qsort(names, nr, sizeof(*names), name_cmp);
	for (i = 0; !err && i < nr; i++) {
		struct runtime_entry e;
		bool alive = false;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (entry_read(path, &e, &alive))
			continue; /* being written, or not ours */
		if (!alive) {
			struct stat st;
			size_t dl = strlen(dir);

			pr_info("removing the stale runtime entry %s", path);
			/* Its socket too, if it is one in the runtime dir (never a user's path). */
			if (!strncmp(e.sock, dir, dl) && e.sock[dl] == '/' &&
			    !strchr(e.sock + dl + 1, '/') && lstat(e.sock, &st) == 0 &&
			    S_ISSOCK(st.st_mode))
				unlink(e.sock);
			unlink(path);
			continue;
		}
		count++;
		if (fn) {
			err = fn(opaque, &e);
			if (err)
				break;
		}
	}
	for (i = 0; i < nr; i++)
		free(names[i]);
	free(names);
	return err ? err : count;
}
