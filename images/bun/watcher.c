/*
 * watcher — tells the sandbox agent which paths under a directory changed (see
 * agent/change-watch.ts), from a recursive inotify watch that runs as the session's user.
 *
 *   watcher <uid> <root>
 *
 * Why a process of its own: an inotify instance and its watches are charged to the user that
 * creates them (max_user_instances, 128 by default, and max_user_watches are per uid, host-wide).
 * The agent is root in every container, so watching from the agent would make every session draw
 * on uid 0's budget; this helper drops to the session uid first (real, effective and saved), so
 * each session spends its own budget and a session exhausting it harms nobody else. It keeps
 * gid 0 so that the agent's kill loops, which never touch gid 0, leave it alone; it is not
 * dumpable, so user code can neither trace it nor read its memory (it can signal it: then the
 * agent stops trusting the watch and walks instead).
 *
 * Writes records to stdout, each ended by a NUL byte (a path may hold any other byte):
 *   R         the first full scan is done: from here on every change is reported
 *   C<path>   something at <path> (relative to root) was created, changed, moved or deleted;
 *             a directory reported so may hold anything (it was made or moved in as a whole)
 *   B         changes may have gone unreported (the kernel's queue overflowed)
 *   L<why>    the watch is incomplete for good (a directory could not be watched); then exits 3
 * Exits 0 when stdin reaches EOF (the agent is gone), 111 on a setup failure.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define SETUP_FAILED 111
#define WATCH_LOST 3
/* Nesting deeper than this is not followed (one open directory per level). */
#define MAX_DEPTH 128
/* Watch descriptors only grow over an instance's life; past this the watcher starts afresh. */
#define MAX_WD (1 << 22)
#define MASK (IN_CREATE | IN_MODIFY | IN_ATTRIB | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE | IN_ONLYDIR)

static int ifd;
static int root_fd;
/* Path of each watched directory relative to root ("" for root), indexed by watch descriptor. */
static char **paths;
static int paths_len;

static char out[1 << 16];
static size_t out_used;
static char last[PATH_MAX + 2];

static void flush_out(void) {
  size_t done = 0;
  while (done < out_used) {
    ssize_t n = write(1, out + done, out_used - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) _exit(0); /* the agent is gone */
    done += (size_t)n;
  }
  out_used = 0;
  last[0] = '\0';
}

/* Queues one record; a change record equal to the previous one in this batch is left out. */
static void record(char kind, const char *path) {
  size_t len = strlen(path);
  if (kind == 'C' && last[0] == 'C' && strcmp(last + 1, path) == 0) return;
  if (out_used + len + 2 > sizeof out) flush_out();
  if (len + 2 > sizeof out) return;
  out[out_used++] = kind;
  memcpy(out + out_used, path, len);
  out_used += len;
  out[out_used++] = '\0';
  last[0] = kind;
  if (len < PATH_MAX) memcpy(last + 1, path, len + 1);
  else last[0] = '\0';
}

static void lost(const char *why) {
  record('L', why);
  flush_out();
  _exit(WATCH_LOST);
}

static void die(const char *what) {
  dprintf(2, "buntime watcher: %s: %s\n", what, strerror(errno));
  _exit(SETUP_FAILED);
}

static char *join(const char *dir, const char *name) {
  size_t a = strlen(dir), b = strlen(name);
  char *p = malloc(a + b + 2);
  if (!p) lost("out of memory");
  if (a) {
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
  } else {
    memcpy(p, name, b + 1);
  }
  return p;
}

static void remember(int wd, const char *rel) {
  if (wd >= MAX_WD) lost("too many watch descriptors");
  if (wd >= paths_len) {
    int len = paths_len ? paths_len : 1024;
    while (len <= wd) len *= 2;
    char **grown = realloc(paths, (size_t)len * sizeof *paths);
    if (!grown) lost("out of memory");
    memset(grown + paths_len, 0, (size_t)(len - paths_len) * sizeof *paths);
    paths = grown;
    paths_len = len;
  }
  free(paths[wd]);
  paths[wd] = strdup(rel);
  if (!paths[wd]) lost("out of memory");
}

/* Watches the open directory `fd` (at `rel`), then everything below it. Takes `fd` over. */
static void watch_tree(int fd, const char *rel, int depth) {
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
  /* Through the descriptor, never the path: user code may swap a directory for a symlink
   * between the scan and the watch. Re-watching a directory returns its existing descriptor. */
  int wd = inotify_add_watch(ifd, proc, MASK);
  if (wd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      close(fd);
      return;
    }
    lost(errno == ENOSPC ? "inotify watch limit reached" : "a directory cannot be watched");
  }
  remember(wd, rel);
  if (depth >= MAX_DEPTH) lost("directories nested too deep");
  DIR *dir = fdopendir(fd);
  if (!dir) lost("a directory cannot be read");
  struct dirent *e;
  while ((e = readdir(dir)) != NULL) {
    if (e->d_name[0] == '.' && (e->d_name[1] == '\0' || (e->d_name[1] == '.' && e->d_name[2] == '\0'))) continue;
    if (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN) continue;
    int child = openat(dirfd(dir), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (child < 0) {
      if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) continue;
      lost("a directory cannot be opened");
    }
    char *sub = join(rel, e->d_name);
    watch_tree(child, sub, depth + 1);
    free(sub);
  }
  closedir(dir);
}

/* Watches the directory at `rel` (relative to root) and everything below it. */
static void watch_path(const char *rel) {
  /* A fresh open each time (a dup would share, and exhaust, the root's read position). */
  int fd = openat(root_fd, *rel ? rel : ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) return; /* gone again: its removal is reported too */
    lost("a directory cannot be opened");
  }
  int depth = 0;
  for (const char *c = rel; *c; c++) depth += *c == '/';
  watch_tree(fd, rel, depth + (*rel != '\0'));
}

/* Stops watching `rel` and everything below it (it was moved away; a move in re-watches it). */
static void unwatch_path(const char *rel) {
  size_t len = strlen(rel);
  for (int wd = 0; wd < paths_len; wd++) {
    const char *p = paths[wd];
    if (!p || strncmp(p, rel, len) != 0 || (p[len] != '\0' && p[len] != '/')) continue;
    inotify_rm_watch(ifd, wd);
    free(paths[wd]);
    paths[wd] = NULL;
  }
}

static void on_event(const struct inotify_event *ev) {
  if (ev->mask & IN_Q_OVERFLOW) {
    record('B', "");
    /* Directories made while events were lost have no watch yet: look for them again. */
    watch_path("");
    return;
  }
  if (ev->wd < 0 || ev->wd >= paths_len || !paths[ev->wd]) return;
  if (ev->mask & IN_IGNORED) {
    free(paths[ev->wd]);
    paths[ev->wd] = NULL;
    return;
  }
  if (ev->len == 0 || ev->name[0] == '\0') return; /* about a watched directory itself */
  char *rel = join(paths[ev->wd], ev->name);
  if (ev->mask & IN_ISDIR) {
    if (ev->mask & IN_MOVED_FROM) unwatch_path(rel);
    if (ev->mask & (IN_CREATE | IN_MOVED_TO)) watch_path(rel);
  }
  record('C', rel);
  free(rel);
}

static void drain(void) {
  char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
  for (;;) {
    ssize_t n = read(ifd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    if (n <= 0) lost("the inotify instance failed");
    for (char *p = buf; p < buf + n;) {
      const struct inotify_event *ev = (const struct inotify_event *)p;
      on_event(ev);
      p += sizeof *ev + ev->len;
    }
  }
  flush_out();
}

static void become_user(uid_t uid) {
  if (setgroups(0, NULL) != 0) die("setgroups");
  if (setresuid(uid, uid, uid) != 0) die("setuid");
  if (getuid() != uid || geteuid() != uid) {
    errno = EPERM;
    die("privilege drop");
  }
  /* A credential change clears the parent-death signal, so it is set afterwards. */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) die("PR_SET_PDEATHSIG");
  if (getppid() == 1) _exit(0);
  prctl(PR_SET_DUMPABLE, 0);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    dprintf(2, "usage: watcher <uid> <root>\n");
    return SETUP_FAILED;
  }
  char *end;
  unsigned long uid = strtoul(argv[1], &end, 10);
  if (*argv[1] == '\0' || *end != '\0' || uid == 0 || uid > 0xfffffffeUL) {
    dprintf(2, "buntime watcher: refusing uid %s\n", argv[1]);
    return SETUP_FAILED;
  }
  signal(SIGPIPE, SIG_IGN);
  become_user((uid_t)uid);
  ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (ifd < 0) lost(errno == EMFILE ? "inotify instance limit reached" : "no inotify");
  root_fd = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0) die("root");
  watch_path("");
  record('R', "");
  flush_out();
  struct pollfd fds[2] = { { .fd = ifd, .events = POLLIN }, { .fd = 0, .events = POLLIN } };
  for (;;) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    if (fds[1].revents) {
      char c;
      if (read(0, &c, 1) <= 0) return 0;
    }
    if (fds[0].revents) drain();
  }
}
