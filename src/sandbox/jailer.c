// SPDX-License-Identifier: MIT
/*
 * The jailer: see mvm/jail.h. Order matters: everything that looks at the
 * host's file system (the exec file, the netns path, cgroups, device numbers)
 * happens before the pivot; privileges are dropped last, just before exec.
 *
 * mvm is linked dynamically (libc, libseccomp, jansson, liburing) and
 * dlopen()s libmicrohttpd: the jail gets the host's library directories
 * bound read-only (nosuid, nodev) in its private mount namespace, at the
 * same paths, so the loader finds them. Nothing else of the host is visible.
 * The chroot stays after the VMM exits, as Firecracker leaves it (the
 * orchestrator removes it); the mounts vanish with the mount namespace.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <grp.h>
#include <unistd.h>

#include <linux/capability.h>

#include "mvm/jail.h"

#define jerr(...) fprintf(stderr, "jailer: " __VA_ARGS__)

static const char *const lib_dirs[] = { "/lib", "/lib64", "/usr/lib", "/usr/lib64" };

/* Each existing component of path must be a real directory owned by root or uid. */
static int check_path(const char *path, uid_t uid)
{
	char buf[PATH_MAX];
	struct stat st;
	size_t i, n = strlen(path);

	if (n >= sizeof(buf) || path[0] != '/') {
		jerr("'%s': give an absolute path\n", path);
		return -EINVAL;
	}
	memcpy(buf, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (lstat(buf, &st) < 0) {
			if (errno == ENOENT)
				return 0; /* the rest is ours to create */
			jerr("%s: %s\n", buf, strerror(errno));
			return -errno;
		}
		if (S_ISLNK(st.st_mode)) {
			jerr("%s is a symlink: refusing to build a jail through it\n", buf);
			return -ELOOP;
		}
		if (!S_ISDIR(st.st_mode)) {
			jerr("%s is not a directory\n", buf);
			return -ENOTDIR;
		}
		if (st.st_uid != 0 && st.st_uid != uid) {
			jerr("%s belongs to uid %u (neither root nor the jail's): refusing\n", buf,
			     (unsigned int)st.st_uid);
			return -EPERM;
		}
		buf[i] = i == n ? '\0' : '/';
	}
	return 0;
}

static int mkdirs(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t i, n = strlen(path);

	if (n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		buf[i] = i == n ? '\0' : '/';
	}
	return 0;
}

static int copy_exec(const char *src, const char *dst, uid_t uid, gid_t gid)
{
	int in, out, err = 0;
	struct stat st;
	off_t off = 0;

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0 || fstat(in, &st) < 0 || !S_ISREG(st.st_mode)) {
		err = in < 0 ? -errno : -EINVAL;
		jerr("exec file %s: %s\n", src, in < 0 ? strerror(errno) : "not a regular file");
		goto out_in;
	}
	unlink(dst); /* a previous run's copy */
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0700);
	if (out < 0) {
		err = -errno;
		jerr("%s: %s\n", dst, strerror(errno));
		goto out_in;
	}
	while (off < st.st_size) {
		ssize_t n = sendfile(out, in, &off, (size_t)(st.st_size - off));

		if (n <= 0) {
			err = n < 0 ? -errno : -EIO;
			jerr("copying %s: %s\n", src, strerror(-err));
			break;
		}
	}
	if (!err && (fchown(out, uid, gid) < 0 || fchmod(out, 0500) < 0))
		err = -errno;
	close(out);
out_in:
	if (in >= 0)
		close(in);
	return err;
}

/* The host's node, if it has one, mirrored (same device number) into the jail. */
static int make_node(const char *root, const char *host, uid_t uid, gid_t gid)
{
	char path[PATH_MAX];
	struct stat st;

	if (stat(host, &st) < 0 || !S_ISCHR(st.st_mode)) {
		jerr("warning: the host has no %s: none in the jail\n", host);
		return 0;
	}
	snprintf(path, sizeof(path), "%s%s", root, host);
	unlink(path);
	if (mknod(path, S_IFCHR | 0600, st.st_rdev) < 0 || chown(path, uid, gid) < 0) {
		jerr("%s: %s\n", path, strerror(errno));
		return -errno;
	}
	return 0;
}

static int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), err = 0;
	size_t n = strlen(val);

	if (fd < 0)
		return -errno;
	if (write(fd, val, n) != (ssize_t)n)
		err = -errno;
	close(fd);
	return err;
}

/* The mount point of a v1 controller, or of the v2 hierarchy (ctl NULL). */
static int cgroup_mount(const char *ctl, char *buf, size_t len)
{
	char line[1024], dev[256], mnt[PATH_MAX], type[64], opts[512];
	FILE *f = fopen("/proc/self/mounts", "re");
	int err = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *o, *save;

		if (sscanf(line, "%255s %4095s %63s %511s", dev, mnt, type, opts) != 4)
			continue;
		if (!ctl && !strcmp(type, "cgroup2")) {
			err = 0;
		} else if (ctl && !strcmp(type, "cgroup")) {
			for (o = strtok_r(opts, ",", &save); o; o = strtok_r(NULL, ",", &save))
				if (!strcmp(o, ctl))
					err = 0;
		}
		if (!err) {
			snprintf(buf, len, "%s", mnt);
			break;
		}
	}
	fclose(f);
	return err;
}

static int setup_cgroups(const struct jail_opts *o, const char *parent)
{
	char pid[32], mnt[PATH_MAX], dir[PATH_MAX], path[PATH_MAX + 256];
	unsigned int i;
	int err;

	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	for (i = 0; i < o->nr_cgroups; i++) {
		const char *eq = strchr(o->cgroups[i], '='), *dot = strchr(o->cgroups[i], '.');
		char file[256], ctl[64];

		if (!eq || !dot || dot > eq || eq - o->cgroups[i] >= (long)sizeof(file) ||
		    dot - o->cgroups[i] >= (long)sizeof(ctl)) {
			jerr("--cgroup '%s': give <controller>.<file>=<value>\n", o->cgroups[i]);
			return -EINVAL;
		}
		snprintf(file, sizeof(file), "%.*s", (int)(eq - o->cgroups[i]), o->cgroups[i]);
		snprintf(ctl, sizeof(ctl), "%.*s", (int)(dot - o->cgroups[i]), o->cgroups[i]);
		err = cgroup_mount(o->cgroup_version == 1 ? ctl : NULL, mnt, sizeof(mnt));
		if (err) {
			jerr("--cgroup %s: no cgroup v%d hierarchy%s%s is mounted\n", o->cgroups[i],
			     o->cgroup_version, o->cgroup_version == 1 ? " with " : "",
			     o->cgroup_version == 1 ? ctl : "");
			return err;
		}
		snprintf(dir, sizeof(dir), "%s/%s/%s", mnt, parent, o->id);
		err = mkdirs(dir, 0755);
		snprintf(path, sizeof(path), "%s/%s", dir, file);
		if (!err)
			err = write_file(path, eq + 1);
		snprintf(path, sizeof(path), "%s/%s", dir,
			 o->cgroup_version == 1 ? "tasks" : "cgroup.procs");
		if (!err)
			err = write_file(path, pid);
		if (err) {
			jerr("cgroup %s (%s): %s\n", dir, o->cgroups[i], strerror(-err));
			return err;
		}
	}
	return 0;
}

/* In the new mount namespace: the jail's root, its libraries read-only. */
static int bind_libs(const char *root)
{
	char dst[PATH_MAX], target[PATH_MAX];
	unsigned int i;
	struct stat st;

	snprintf(dst, sizeof(dst), "%s/usr", root);
	mkdir(dst, 0755);
	for (i = 0; i < sizeof(lib_dirs) / sizeof(lib_dirs[0]); i++) {
		ssize_t n;

		if (lstat(lib_dirs[i], &st) < 0)
			continue;
		snprintf(dst, sizeof(dst), "%s%s", root, lib_dirs[i]);
		if (S_ISLNK(st.st_mode)) {
			n = readlink(lib_dirs[i], target, sizeof(target) - 1);
			if (n < 0)
				return -errno;
			target[n] = '\0';
			unlink(dst);
			if (symlink(target, dst) < 0)
				return -errno;
			continue;
		}
		if (mkdir(dst, 0755) < 0 && errno != EEXIST)
			return -errno;
		if (mount(lib_dirs[i], dst, NULL, MS_BIND | MS_REC, NULL) < 0 ||
		    mount(NULL, dst, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV,
			  NULL) < 0) {
			jerr("binding %s read-only: %s\n", lib_dirs[i], strerror(errno));
			return -errno;
		}
	}
	return 0;
}

static int enter_root(const char *root)
{
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0 ||
	    mount(root, root, NULL, MS_BIND | MS_REC, NULL) < 0) {
		jerr("mount namespace: %s\n", strerror(errno));
		return -errno;
	}
	if (bind_libs(root))
		return -EIO;
	if (chdir(root) < 0 || (mkdir("old_root", 0700) < 0 && errno != EEXIST) ||
	    syscall(SYS_pivot_root, ".", "old_root") < 0 || chdir("/") < 0 ||
	    umount2("old_root", MNT_DETACH) < 0 || rmdir("old_root") < 0) {
		jerr("pivot_root into %s: %s\n", root, strerror(errno));
		return -errno;
	}
	return 0;
}

static int drop_privileges(uid_t uid, gid_t gid)
{
	int cap;

	for (cap = 0; cap <= CAP_LAST_CAP; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return -errno;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 ||
	    setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
	    setresuid(uid, uid, uid) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		jerr("dropping to uid %u gid %u: %s\n", (unsigned int)uid, (unsigned int)gid,
		     strerror(errno));
		return -errno;
	}
	return 0;
}

int jail_run(const struct jail_opts *o)
{
	static const char *const nodes[] = { "/dev/kvm", "/dev/net/tun", "/dev/urandom" };
	const char *base = o->chroot_base ? o->chroot_base : "/srv/jailer";
	const char *name =
		strrchr(o->exec_file, '/') ? strrchr(o->exec_file, '/') + 1 : o->exec_file;
	char root[PATH_MAX], path[PATH_MAX + 64], exe[PATH_MAX], **argv;
	int err, null_fd = -1, netns = -1, i;
	unsigned int n;
	pid_t child;

	/* Nothing the caller had open reaches the VMM. */
	if (syscall(SYS_close_range, 3U, ~0U, 0U) < 0)
		for (i = 3; i < 1024; i++)
			close(i);
	if (snprintf(root, sizeof(root), "%s/%s/%s/root", base, name, o->id) >= (int)sizeof(root))
		return -ENAMETOOLONG;
	err = check_path(root, o->uid);
	if (err)
		return err;
	err = mkdirs(root, 0755);
	if (!err) {
		/* The instance's directories are the jailed user's; the ones above are root's. */
		snprintf(path, sizeof(path), "%s/%s/%s", base, name, o->id);
		if (chown(path, o->uid, o->gid) < 0 || chown(root, o->uid, o->gid) < 0)
			err = -errno;
	}
	if (err) {
		jerr("creating %s: %s\n", root, strerror(-err));
		return err;
	}
	snprintf(exe, sizeof(exe), "/%s", name);
	snprintf(path, sizeof(path), "%s%s", root, exe);
	err = copy_exec(o->exec_file, path, o->uid, o->gid);
	if (err)
		return err;
	snprintf(path, sizeof(path), "%s/dev/net", root);
	mkdirs(path, 0755);
	for (n = 0; n < sizeof(nodes) / sizeof(nodes[0]); n++) {
		err = make_node(root, nodes[n], o->uid, o->gid);
		if (err)
			return err;
	}
	/* The VMM's runtime directory (its API socket, its registry entry). */
	snprintf(path, sizeof(path), "%s/run", root);
	if ((mkdir(path, 0700) < 0 && errno != EEXIST) || chown(path, o->uid, o->gid) < 0) {
		jerr("%s: %s\n", path, strerror(errno));
		return -errno;
	}
	if (o->netns) {
		netns = open(o->netns, O_RDONLY | O_CLOEXEC);
		if (netns < 0 || setns(netns, CLONE_NEWNET) < 0) {
			jerr("--netns %s: %s\n", o->netns, strerror(errno));
			return -errno;
		}
		close(netns);
	}
	err = setup_cgroups(o, o->parent_cgroup ? o->parent_cgroup : name);
	if (err)
		return err;
	for (n = 0; n < o->nr_limits; n++) {
		struct rlimit rl = { o->limits[n].value, o->limits[n].value };

		if (setrlimit(o->limits[n].resource, &rl) < 0) {
			jerr("--resource-limit: %s\n", strerror(errno));
			return -errno;
		}
	}
	if (o->daemonize) {
		null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null_fd < 0)
			return -errno;
	}
	err = enter_root(root);
	if (err)
		return err;
	if (o->new_pid_ns) {
		if (unshare(CLONE_NEWPID) < 0) {
			jerr("--new-pid-ns: %s\n", strerror(errno));
			return -errno;
		}
		child = fork();
		if (child < 0)
			return -errno;
		if (child > 0) {
			/* As Firecracker's: the VMM's pid (as the host sees it) in the jail. */
			char pidfile[PATH_MAX + 8], pid[32];
			int fd;

			snprintf(pidfile, sizeof(pidfile), "/%s.pid", name);
			snprintf(pid, sizeof(pid), "%d\n", (int)child);
			fd = open(pidfile, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
				  0644);
			if (fd >= 0) {
				if (write(fd, pid, strlen(pid)) < 0)
					jerr("%s: %s\n", pidfile, strerror(errno));
				close(fd);
			}
			_exit(0);
		}
	}
	if (o->daemonize) {
		if (setsid() < 0) {
			jerr("--daemonize: setsid: %s\n", strerror(errno));
			return -errno;
		}
		dup2(null_fd, STDIN_FILENO);
		dup2(null_fd, STDOUT_FILENO);
		dup2(null_fd, STDERR_FILENO);
	}
	err = drop_privileges(o->uid, o->gid);
	if (err)
		return err;
	argv = calloc((size_t)o->vmm_argc + 4, sizeof(*argv));
	if (!argv)
		return -ENOMEM;
	argv[0] = (char *)name;
	argv[1] = "--id";
	argv[2] = (char *)o->id;
	for (i = 0; i < o->vmm_argc; i++)
		argv[3 + i] = o->vmm_argv[i];
	execve(exe, argv, (char *[]){ "XDG_RUNTIME_DIR=/run", NULL });
	jerr("exec %s in the jail: %s\n", exe, strerror(errno));
	free(argv);
	return -errno;
}
