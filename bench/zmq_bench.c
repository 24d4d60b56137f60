/* Ceiling benchmark with ZeroMQ (libzmq, Debian's libzmq3-dev).
 *
 * Forks into two processes before any ZeroMQ context exists. The parent binds
 * tcp://127.0.0.1:* and hands the bound endpoint to the child through a pipe. Both arm
 * alarm() so that nothing outlives its bound; the parent kills and reaps a late child.
 *
 *   zmq_bench tput N [SIZE]   PUB (child, connects) -> SUB (parent, binds): N messages of SIZE
 *                             bytes (default 64); the parent counts arrivals, rate from first
 *                             to last arrival. PUB drops at its high-water mark, so "recv"
 *                             may be below N: it is reported, not hidden.
 *                             A fourth argument HWM sets ZMQ_SNDHWM/ZMQ_RCVHWM on both sides
 *                             (0 = unlimited: lossless, the publisher buffers in memory);
 *                             without it libzmq's default (1000) applies.
 *   zmq_bench rtt N [SIZE]    REQ (child) <-> REP (parent), N round trips, p50/p99 in us.
 *
 * Each result is one line on stdout starting with "RESULT", as key=value pairs.
 */
#define _POSIX_C_SOURCE 200809L
#include <zmq.h>

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHILD_BOUND_SECS 100

static int g_hwm = -1; /* -1: libzmq's default */

static void set_hwm(void *sock) {
  if (g_hwm < 0)
    return;
  zmq_setsockopt(sock, ZMQ_SNDHWM, &g_hwm, sizeof g_hwm);
  zmq_setsockopt(sock, ZMQ_RCVHWM, &g_hwm, sizeof g_hwm);
}
#define PARENT_BOUND_SECS 110

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what) {
  fprintf(stderr, "zmq_bench: %s (%s)\n", what, zmq_strerror(zmq_errno()));
  fflush(stderr);
  _exit(2);
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Message kinds, first byte of every message. */
enum { K_WARM = 'w', K_DATA = 'd', K_END = 'e' };

typedef struct {
  pid_t pid;
  int to_child;   /* parent writes the endpoint; closing it tells the child to finish */
  int from_child; /* child writes one byte when its side is ready */
} child_t;

static child_t spawn(int (*fn)(int rfd, int wfd, uint64_t n, size_t size), uint64_t n,
                     size_t size) {
  int a[2], b[2];
  if (pipe(a) != 0 || pipe(b) != 0)
    die("pipe");
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0)
    die("fork");
  if (pid == 0) {
    close(a[1]);
    close(b[0]);
    alarm(CHILD_BOUND_SECS);
    int rc = fn(a[0], b[1], n, size);
    fflush(stdout);
    _exit(rc);
  }
  close(a[0]);
  close(b[1]);
  alarm(PARENT_BOUND_SECS);
  child_t c = {pid, a[1], b[0]};
  return c;
}

static int reap(child_t *c, int timeout_ms) {
  if (c->to_child >= 0)
    close(c->to_child);
  c->to_child = -1;
  uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000ull;
  int status = 0;
  for (;;) {
    pid_t r = waitpid(c->pid, &status, WNOHANG);
    if (r == c->pid)
      break;
    if (now_ns() >= deadline) {
      fprintf(stderr, "zmq_bench: child %d did not finish, killing it\n", (int)c->pid);
      kill(c->pid, SIGKILL);
      waitpid(c->pid, &status, 0);
      break;
    }
    sleep_ms(10);
  }
  if (c->from_child >= 0)
    close(c->from_child);
  c->from_child = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Reads the NUL-terminated endpoint string the parent wrote. */
static void read_endpoint(int fd, char *buf, size_t cap) {
  size_t got = 0;
  uint64_t deadline = now_ns() + 20000000000ull;
  while (got < cap - 1 && now_ns() < deadline) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0)
      continue;
    ssize_t r = read(fd, buf + got, 1);
    if (r <= 0)
      die("no endpoint from parent");
    if (buf[got] == '\0')
      return;
    got++;
  }
  die("no endpoint from parent");
}

static void bind_local(void *sock, char *endpoint, size_t cap) {
  if (zmq_bind(sock, "tcp://127.0.0.1:*") != 0)
    die("bind tcp://127.0.0.1:*");
  size_t len = cap;
  if (zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, endpoint, &len) != 0)
    die("ZMQ_LAST_ENDPOINT");
}

/* True if fd is readable or closed (poll with 0 timeout). */
static int fd_signalled(int fd) {
  struct pollfd p = {fd, POLLIN, 0};
  return poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP));
}

/* ------------------------------------------------------------------ throughput */

static int tput_publisher(int rfd, int wfd, uint64_t n, size_t size) {
  (void)wfd;
  char ep[256];
  read_endpoint(rfd, ep, sizeof ep);
  void *ctx = zmq_ctx_new();
  void *pub = zmq_socket(ctx, ZMQ_PUB);
  int linger = 1000;
  zmq_setsockopt(pub, ZMQ_LINGER, &linger, sizeof linger);
  set_hwm(pub);
  if (zmq_connect(pub, ep) != 0)
    die("connect");
  char *msg = calloc(1, size);
  if (!msg)
    die("calloc");
  /* Warm up until the subscriber has seen one message (it writes a byte to us). */
  int ready = 0;
  for (int i = 0; i < 20000 && !ready; i++) {
    msg[0] = K_WARM;
    zmq_send(pub, msg, size, ZMQ_DONTWAIT);
    sleep_ms(1);
    struct pollfd p = {rfd, POLLIN, 0};
    if (poll(&p, 1, 0) > 0) {
      char c;
      ready = read(rfd, &c, 1) == 1;
    }
  }
  if (!ready)
    die("subscriber never became ready");
  uint64_t t0 = now_ns();
  msg[0] = K_DATA;
  for (uint64_t i = 0; i < n; i++) {
    memcpy(msg + 1, &i, size >= 9 ? 8 : size - 1);
    if (zmq_send(pub, msg, size, 0) < 0)
      die("send");
  }
  uint64_t t1 = now_ns();
  printf("SENDER publish_secs=%.3f\n", (double)(t1 - t0) / 1e9);
  fflush(stdout);
  /* End markers until the parent closes the pipe (it has stopped counting). */
  msg[0] = K_END;
  while (!fd_signalled(rfd)) {
    zmq_send(pub, msg, size, ZMQ_DONTWAIT);
    sleep_ms(10);
  }
  free(msg);
  zmq_close(pub);
  zmq_ctx_term(ctx);
  return 0;
}

static int mode_tput(uint64_t n, size_t size) {
  child_t c = spawn(tput_publisher, n, size);
  void *ctx = zmq_ctx_new();
  void *sub = zmq_socket(ctx, ZMQ_SUB);
  zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
  set_hwm(sub);
  int timeout = 200;
  zmq_setsockopt(sub, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
  char ep[256];
  bind_local(sub, ep, sizeof ep);
  if (write(c.to_child, ep, strlen(ep) + 1) < 0)
    die("write endpoint");
  char *buf = malloc(size + 16);
  if (!buf)
    die("malloc");
  int told_ready = 0;
  uint64_t got = 0, first = 0, last = 0, start = now_ns();
  for (;;) {
    uint64_t now = now_ns();
    if (now - start > 60000000000ull)
      break;
    if (last && now - last > 3000000000ull)
      break;
    int r = zmq_recv(sub, buf, size + 16, 0);
    if (r < 0) {
      if (zmq_errno() == EAGAIN || zmq_errno() == EINTR)
        continue;
      die("recv");
    }
    if (buf[0] == K_WARM && !told_ready) {
      char b = 1;
      if (write(c.to_child, &b, 1) < 0)
        die("write ready");
      told_ready = 1;
    } else if (buf[0] == K_DATA) {
      uint64_t t = now_ns();
      if (!first)
        first = t;
      last = t;
      got++;
      if (got == n)
        break;
    } else if (buf[0] == K_END && got > 0) {
      break;
    }
  }
  double secs = last > first ? (double)(last - first) / 1e9 : 0.0;
  printf("RESULT zmq tput hwm=%d size=%zu sent=%" PRIu64 " recv=%" PRIu64
         " secs=%.3f rate=%.0f\n",
         g_hwm, size, n, got, secs, secs > 0 ? (double)(got - 1) / secs : 0.0);
  fflush(stdout);
  free(buf);
  int rc = reap(&c, 10000);
  zmq_close(sub);
  zmq_ctx_term(ctx);
  return rc == 0 && got > 0 ? 0 : 1;
}

/* ------------------------------------------------------------------ round trip */

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static int rtt_requester(int rfd, int wfd, uint64_t n, size_t size) {
  (void)wfd;
  char ep[256];
  read_endpoint(rfd, ep, sizeof ep);
  void *ctx = zmq_ctx_new();
  void *req = zmq_socket(ctx, ZMQ_REQ);
  int timeout = 2000, linger = 0;
  zmq_setsockopt(req, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
  zmq_setsockopt(req, ZMQ_LINGER, &linger, sizeof linger);
  if (zmq_connect(req, ep) != 0)
    die("connect");
  char *msg = calloc(1, size + 16);
  double *us = malloc(sizeof(double) * (size_t)n);
  if (!msg || !us)
    die("alloc");
  /* Warm-up round trips (connection set-up is not part of the figure). */
  for (int i = 0; i < 100; i++) {
    if (zmq_send(req, msg, size, 0) < 0 || zmq_recv(req, msg, size + 16, 0) < 0)
      die("warm-up round trip");
  }
  uint64_t ok = 0;
  for (uint64_t i = 0; i < n; i++) {
    memcpy(msg, &i, size >= 8 ? 8 : size);
    uint64_t t0 = now_ns();
    if (zmq_send(req, msg, size, 0) < 0)
      die("send");
    if (zmq_recv(req, msg, size + 16, 0) < 0)
      die("recv (REQ cannot continue after a lost reply)");
    us[ok++] = (double)(now_ns() - t0) / 1e3;
  }
  qsort(us, ok, sizeof(double), cmp_double);
  double sum = 0;
  for (uint64_t i = 0; i < ok; i++)
    sum += us[i];
  printf("RESULT zmq rtt size=%zu rounds=%" PRIu64 " ok=%" PRIu64
         " p50_us=%.1f p99_us=%.1f max_us=%.1f mean_us=%.1f\n",
         size, n, ok, us[(size_t)(0.50 * (double)ok)], us[(size_t)(0.99 * (double)ok)],
         us[ok - 1], sum / (double)ok);
  fflush(stdout);
  free(msg);
  free(us);
  zmq_close(req);
  zmq_ctx_term(ctx);
  return 0;
}

static int mode_rtt(uint64_t n, size_t size) {
  child_t c = spawn(rtt_requester, n, size);
  void *ctx = zmq_ctx_new();
  void *rep = zmq_socket(ctx, ZMQ_REP);
  int timeout = 100, linger = 0;
  zmq_setsockopt(rep, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
  zmq_setsockopt(rep, ZMQ_LINGER, &linger, sizeof linger);
  char ep[256];
  bind_local(rep, ep, sizeof ep);
  if (write(c.to_child, ep, strlen(ep) + 1) < 0)
    die("write endpoint");
  char *buf = malloc(size + 16);
  if (!buf)
    die("malloc");
  /* Echo until the requester exits (its pipe end closes). */
  for (;;) {
    int r = zmq_recv(rep, buf, size + 16, 0);
    if (r >= 0) {
      if (zmq_send(rep, buf, (size_t)r, 0) < 0)
        die("send");
      continue;
    }
    if (zmq_errno() != EAGAIN && zmq_errno() != EINTR)
      die("recv");
    if (fd_signalled(c.from_child))
      break;
  }
  free(buf);
  int rc = reap(&c, 10000);
  zmq_close(rep);
  zmq_ctx_term(ctx);
  return rc;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: zmq_bench tput|rtt N [SIZE [HWM]]\n");
    return 2;
  }
  uint64_t n = strtoull(argv[2], NULL, 10);
  size_t size = argc > 3 ? (size_t)strtoul(argv[3], NULL, 10) : 64;
  if (argc > 4)
    g_hwm = atoi(argv[4]);
  if (n == 0 || size < 9) {
    fprintf(stderr, "zmq_bench: N must be > 0 and SIZE >= 9\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  if (strcmp(argv[1], "tput") == 0)
    return mode_tput(n, size);
  if (strcmp(argv[1], "rtt") == 0)
    return mode_rtt(n, size);
  fprintf(stderr, "usage: zmq_bench tput|rtt N [SIZE [HWM]]\n");
  return 2;
}
