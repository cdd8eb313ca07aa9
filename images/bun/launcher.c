/*
 * launcher — starts one user program for the sandbox agent (see PROTOCOL.md, "Process tracking").
 *
 *   launcher <uid> <gid> <nproc> <fsize> -- <program> [args...]
 *
 * Reports on fd 3, one JSON object per line:
 *   {"pid":N}                                         as soon as the program is forked
 *   {"exit":C|null,"signal":S|null,"utime_us":…,"stime_us":…,"maxrss_kb":…,"left":B}
 *                                                     when the program has ended
 * then stays until every process the program left behind is gone (the agent kills them), so
 * EOF on fd 3 means "nothing of this execution is alive any more".
 *
 * Why a separate static program: a process forked straight from the agent inherits the agent's
 * peak RSS in ru_maxrss; a fork of this small launcher does not. The launcher itself stays root
 * (with gid 0) so user code can neither signal it nor be mistaken for it when the agent kills an
 * execution's processes by gid. Exit status: 0 after a report, 111 on a setup failure (the
 * message goes to stderr, which is the program's stderr pipe).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define REPORT_FD 3
#define SETUP_FAILED 111

static void die(const char *what) {
  dprintf(2, "buntime launcher: %s: %s\n", what, strerror(errno));
  _exit(SETUP_FAILED);
}

static unsigned long parse_num(const char *s, const char *what) {
  char *end;
  errno = 0;
  unsigned long v = strtoul(s, &end, 10);
  if (errno || *s == '\0' || *end != '\0') {
    dprintf(2, "buntime launcher: bad %s: %s\n", what, s);
    _exit(SETUP_FAILED);
  }
  return v;
}

/* Lowers both limits to `value`; without CAP_SYS_RESOURCE a limit can only go down, so a value
 * above the inherited hard limit (e.g. Docker's fsize ulimit) keeps the hard limit. */
static void set_limit(int resource, rlim_t value, const char *what) {
  struct rlimit rl;
  if (getrlimit(resource, &rl) != 0) die(what);
  if (rl.rlim_max != RLIM_INFINITY && value > rl.rlim_max) value = rl.rlim_max;
  rl.rlim_cur = rl.rlim_max = value;
  if (setrlimit(resource, &rl) != 0) die(what);
}

/* fd 3 is a pipe or a stream socket; a line this short (< PIPE_BUF) goes out in one write(),
 * so EINTR is the only retry worth making. */
static void report(const char *line) {
  size_t len = strlen(line);
  while (write(REPORT_FD, line, len) < 0 && errno == EINTR) {
  }
}

/* Ignored signals and the signal mask survive exec; the program starts from the defaults, not
 * from whatever the agent's runtime or this launcher had set. */
static void reset_signals(void) {
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig != SIGKILL && sig != SIGSTOP) signal(sig, SIG_DFL);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Runs in the forked child: everything that must hold for the user program and must not hold
 * for the launcher. Order matters: oom_score_adj and rlimits need root-owned /proc/self and
 * privileges, so they come before the uid is dropped; setgroups before setgid before setuid,
 * since each step needs the privilege the next one gives up. */
static void become_user(uid_t uid, gid_t gid, rlim_t nproc, rlim_t fsize) {
  int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, "1000", 4) != 4) die("oom_score_adj");
  close(fd);
  set_limit(RLIMIT_NPROC, nproc, "RLIMIT_NPROC");
  set_limit(RLIMIT_FSIZE, fsize, "RLIMIT_FSIZE");
  set_limit(RLIMIT_CORE, 0, "RLIMIT_CORE");
  /* Own session and process group: the program is detached from the agent's, and a program
   * that kills its process group kills only itself. */
  if (setsid() < 0) die("setsid");
  if (setgroups(0, NULL) != 0) die("setgroups");
  if (setresgid(gid, gid, gid) != 0) die("setgid");
  if (setresuid(uid, uid, uid) != 0) die("setuid");
  /* Belt and braces: a privilege drop that silently did not happen must never run user code. */
  if (getuid() != uid || geteuid() != uid || getgid() != gid || getegid() != gid) {
    errno = EPERM;
    die("privilege drop");
  }
  /* The report pipe is the launcher's; the program must not be able to forge reports. */
  close(REPORT_FD);
  reset_signals();
}

/* Right after a fork bomb was killed the pids cgroup can stay full for a moment while the
 * dead are reaped, so EAGAIN is retried for up to ~2 s before giving up. */
static pid_t fork_retrying(void) {
  for (int i = 0; i < 200; i++) {
    pid_t pid = fork();
    if (pid >= 0 || errno != EAGAIN) return pid;
    usleep(10000);
  }
  return -1;
}

/* Reaps what is already dead among the orphans the launcher adopted; true if some still live. */
static int others_alive(void) {
  for (;;) {
    pid_t r = waitpid(-1, NULL, WNOHANG);
    if (r > 0) continue;
    if (r == 0) return 1;
    if (errno == EINTR) continue;
    return 0; /* ECHILD */
  }
}

static void wait_all(void) {
  while (wait(NULL) > 0 || errno == EINTR) {
  }
}

int main(int argc, char **argv) {
  if (argc < 7 || strcmp(argv[5], "--") != 0) {
    dprintf(2, "usage: launcher <uid> <gid> <nproc> <fsize> -- program [args...]\n");
    return SETUP_FAILED;
  }
  uid_t uid = (uid_t)parse_num(argv[1], "uid");
  gid_t gid = (gid_t)parse_num(argv[2], "gid");
  rlim_t nproc = (rlim_t)parse_num(argv[3], "nproc");
  rlim_t fsize = (rlim_t)parse_num(argv[4], "fsize");
  /* Refuse to run user code as root or with root's group, whatever the caller passed. */
  if (uid == 0 || gid == 0) {
    dprintf(2, "buntime launcher: refusing uid/gid 0\n");
    return SETUP_FAILED;
  }
  if (fcntl(REPORT_FD, F_GETFD) < 0) die("fd 3");
  /* The launcher is "init" of the execution: orphans (double forks, setsid daemons) are
   * reparented here rather than to tini, so after the program ends the launcher knows at no
   * cost whether anything was left behind, and reaps it once the agent has killed it. */
  int subreaper = prctl(PR_SET_CHILD_SUBREAPER, 1) == 0;
  /* gVisor has no subreapers (EINVAL): orphans then go to init, and only the agent's /proc scan
   * can tell whether something was left, so the report always says so. */
  if (!subreaper && errno != EINVAL) die("PR_SET_CHILD_SUBREAPER");
  signal(SIGPIPE, SIG_IGN);

  pid_t pid = fork_retrying();
  if (pid < 0) die("fork");
  if (pid == 0) {
    become_user(uid, gid, nproc, fsize);
    execvp(argv[6], &argv[6]);
    int err = errno;
    dprintf(2, "buntime launcher: cannot run %s: %s\n", argv[6], strerror(err));
    _exit(err == ENOENT ? 127 : 126); /* the shell's codes for "not found" / "cannot execute" */
  }

  char line[256];
  snprintf(line, sizeof line, "{\"pid\":%d}\n", (int)pid);
  report(line);

  int status = 0;
  struct rusage ru;
  for (;;) {
    pid_t r = wait4(-1, &status, 0, &ru);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) die("wait4");
  }

  char code[16] = "null", sig[16] = "null";
  if (WIFEXITED(status)) snprintf(code, sizeof code, "%d", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) snprintf(sig, sizeof sig, "%d", WTERMSIG(status));
  int left = subreaper ? others_alive() : 1;
  snprintf(line, sizeof line,
           "{\"exit\":%s,\"signal\":%s,\"utime_us\":%lld,\"stime_us\":%lld,\"maxrss_kb\":%ld,"
           "\"left\":%s}\n",
           code, sig, (long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec,
           (long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec, ru.ru_maxrss,
           left ? "true" : "false");
  report(line);
  if (left) wait_all();
  return 0;
}
