// Baseline benchmark against the real Broker (Debian's libbroker-dev, Broker 1.4 on CAF 0.17).
//
// Every mode forks into two processes before any Broker object exists; the parent listens on
// 127.0.0.1 (port 0, the bound port goes to the child through a pipe), the child peers. Each
// process arms alarm() so that nothing outlives its time bound, and the parent kills and reaps
// the child if it has not finished in time.
//
//   broker_bench tput  N [--api endpoint|publisher|stream] [--qsize Q] [--tls]
//       one-way throughput: the child publishes N Zeek-event-like messages on "bench/x",
//       the parent counts what arrives (rate from first to last arrival).
//   broker_bench rtt   N [--tls]
//       ping-pong of one event at a time, N round trips, p50/p99 in microseconds.
//   --caf-timer-us T (tput, rtt): set CAF 0.17's stream.max-batch-delay and
//       stream.credit-round-interval to T microseconds on both sides (default: CAF's own).
//   broker_bench store N memory|sqlite DIR
//       puts/s to a master from its own process, from a clone in another process, and the
//       time until the clone sees a put made on the master.
//
// Each result is one line on stdout starting with "RESULT", as key=value pairs.

#include <broker/broker.hh>
#include <broker/zeek.hh>

#include <algorithm>
#include <atomic>
#include <memory>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

namespace {

using namespace std::chrono_literals;

constexpr unsigned kChildBoundSecs = 300;
constexpr unsigned kParentBoundSecs = 320;

uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

long max_rss_kib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "broker_bench: %s\n", what);
  std::fflush(stderr);
  _exit(2);
}

bool write_all(int fd, const void* buf, size_t n) {
  auto p = static_cast<const char*>(buf);
  while (n > 0) {
    auto w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return false;
    }
    p += w;
    n -= size_t(w);
  }
  return true;
}

// Reads exactly n bytes, or returns false on EOF/error/timeout.
bool read_all(int fd, void* buf, size_t n, int timeout_ms) {
  auto p = static_cast<char*>(buf);
  auto deadline = now_ns() + uint64_t(timeout_ms) * 1000000ull;
  while (n > 0) {
    auto now = now_ns();
    if (now >= deadline)
      return false;
    pollfd pfd{fd, POLLIN, 0};
    int rc = poll(&pfd, 1, int((deadline - now) / 1000000ull) + 1);
    if (rc < 0 && errno == EINTR)
      continue;
    if (rc <= 0)
      return rc == 0 ? false : false;
    auto r = read(fd, p, n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return false;
    p += r;
    n -= size_t(r);
  }
  return true;
}

// True once the peer's side of the pipe has been closed (EOF), waiting at most timeout_ms.
bool wait_eof(int fd, int timeout_ms) {
  char c;
  return !read_all(fd, &c, 1, timeout_ms);
}

// CAF stream timers (microseconds) to set instead of CAF 0.17's defaults; 0 = keep defaults.
long g_caf_timer_us = 0;

broker::configuration make_config(bool tls) {
  broker::broker_options opts;
  opts.disable_ssl = !tls;
  opts.ignore_broker_conf = true;
  broker::configuration cfg{opts};
  if (g_caf_timer_us > 0) {
    auto t = caf::timespan{std::chrono::microseconds(g_caf_timer_us)};
    cfg.set("stream.max-batch-delay", t);
    cfg.set("stream.credit-round-interval", t);
  }
  return cfg;
}

broker::data make_event(uint64_t seq) {
  // Zeek's event layout in Broker 1.4: [protocol version 1, type 1 (event), [name, args]].
  broker::zeek::Event ev("ping", broker::vector{std::string("hello"), broker::count(seq)});
  return ev.move_data();
}

uint64_t event_seq(const broker::data& d) {
  auto outer = caf::get_if<broker::vector>(&d);
  if (!outer || outer->size() < 3)
    return UINT64_MAX;
  auto body = caf::get_if<broker::vector>(&(*outer)[2]);
  if (!body || body->size() < 2)
    return UINT64_MAX;
  auto args = caf::get_if<broker::vector>(&(*body)[1]);
  if (!args || args->size() < 2)
    return UINT64_MAX;
  auto c = caf::get_if<broker::count>(&(*args)[1]);
  return c ? *c : UINT64_MAX;
}

// Waits until some peer has subscribed to a topic with the given prefix.
bool wait_peer_subscription(broker::endpoint& ep, const std::string& t, int timeout_ms) {
  auto deadline = now_ns() + uint64_t(timeout_ms) * 1000000ull;
  while (now_ns() < deadline) {
    for (auto& s : ep.peer_subscriptions())
      if (s.string() == t)
        return true;
    std::this_thread::sleep_for(5ms);
  }
  return false;
}

struct Child {
  pid_t pid = -1;
  int to_child = -1;   // parent writes (port, commands); child reads
  int from_child = -1; // child writes; parent reads (EOF = child finished)
};

// Forks; in the child runs fn(read_fd, write_fd) and exits with its return value.
template <class F>
Child spawn(F fn) {
  int a[2], b[2];
  if (pipe(a) != 0 || pipe(b) != 0)
    die("pipe failed");
  std::fflush(stdout);
  pid_t pid = fork();
  if (pid < 0)
    die("fork failed");
  if (pid == 0) {
    close(a[1]);
    close(b[0]);
    alarm(kChildBoundSecs);
    int rc = fn(a[0], b[1]);
    std::fflush(stdout);
    std::fflush(stderr);
    _exit(rc);
  }
  close(a[0]);
  close(b[1]);
  alarm(kParentBoundSecs);
  return Child{pid, a[1], b[0]};
}

// Waits for the child to exit (at most timeout_ms), kills it if it does not, returns its status.
int reap(Child& c, int timeout_ms) {
  if (c.to_child >= 0)
    close(c.to_child);
  c.to_child = -1;
  auto deadline = now_ns() + uint64_t(timeout_ms) * 1000000ull;
  int status = 0;
  for (;;) {
    pid_t r = waitpid(c.pid, &status, WNOHANG);
    if (r == c.pid)
      break;
    if (now_ns() >= deadline) {
      std::fprintf(stderr, "broker_bench: child %d did not finish, killing it\n", int(c.pid));
      kill(c.pid, SIGKILL);
      waitpid(c.pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(10ms);
  }
  if (c.from_child >= 0)
    close(c.from_child);
  c.from_child = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

uint16_t listen_local(broker::endpoint& ep) {
  auto port = ep.listen("127.0.0.1", 0);
  if (port == 0)
    die("listen on 127.0.0.1 failed");
  return port;
}

uint16_t recv_port(int fd) {
  uint16_t port = 0;
  if (!read_all(fd, &port, sizeof port, 20000))
    die("no port from parent");
  return port;
}

// ---------------------------------------------------------------- throughput

int mode_tput(uint64_t n, const std::string& api, size_t qsize, bool tls) {
  auto child = spawn([&](int rfd, int wfd) {
    auto port = recv_port(rfd);
    broker::endpoint ep{make_config(tls)};
    if (!ep.peer("127.0.0.1", port, broker::timeout::seconds(1)))
      die("sender: peer failed");
    if (!wait_peer_subscription(ep, "bench/x", 20000))
      die("sender: receiver's subscription never arrived");
    auto t0 = now_ns();
    if (api == "publisher") {
      // The flow-controlled API: publish() blocks while the publisher's queue (30) is full.
      auto pub = ep.make_publisher("bench/x");
      // Broker 1.4: items published before the publisher's stream to the core has credit
      // can stay in its queue for good (seen here: demand 100, 30 buffered, nothing sent),
      // so wait for the first demand.
      auto until = now_ns() + 10000000000ull;
      while (pub.demand() == 0 && now_ns() < until)
        std::this_thread::sleep_for(1ms);
      for (uint64_t i = 0; i < n; ++i)
        pub.publish(make_event(i));
      std::printf("SENDER publisher_buffered=%zu\n", pub.buffered());
    } else if (api == "stream") {
      // A CAF stream source attached to the core (what Broker 1.4's own broker-benchmark
      // uses for unlimited rate): the core pulls events as credit allows.
      auto next = std::make_shared<uint64_t>(0);
      auto done = std::make_shared<std::atomic<bool>>(false);
      ep.publish_all_nosync(
        [](caf::unit_t&) {},
        [=](caf::unit_t&, caf::downstream<broker::data_message>& out, size_t hint) {
          for (size_t k = 0; k < hint && *next < n; ++k, ++*next)
            out.push(broker::make_data_message(broker::topic("bench/x"), make_event(*next)));
          if (*next >= n)
            done->store(true);
        },
        [=](const caf::unit_t&) { return *next >= n; });
      while (!done->load())
        std::this_thread::sleep_for(1ms);
    } else {
      // The default API: every publish() is an asynchronous message to the core actor.
      for (uint64_t i = 0; i < n; ++i)
        ep.publish("bench/x", make_event(i));
    }
    auto t1 = now_ns();
    std::printf("SENDER publish_secs=%.3f sender_maxrss_kib=%ld\n", (t1 - t0) / 1e9, max_rss_kib());
    std::fflush(stdout);
    // Stay connected until the receiver has finished counting (it closes the pipe).
    wait_eof(rfd, 100000);
    (void)wfd;
    // Broker 1.4's endpoint destructor can hang after a stream source finished; the data
    // has been counted by now, so leave without running it.
    std::fflush(stdout);
    _exit(0);
    return 0;
  });

  broker::endpoint ep{make_config(tls)};
  auto sub = ep.make_subscriber({"bench/x"}, qsize);
  auto port = listen_local(ep);
  write_all(child.to_child, &port, sizeof port);

  uint64_t got = 0, in_order = 0, next_expected = 0;
  uint64_t first = 0, last = 0;
  auto start = now_ns();
  const uint64_t idle_limit = 3000000000ull;   // stop after 3 s without a message
  const uint64_t total_limit = 100000000000ull; // and after 100 s in all
  int fd = sub.fd();
  for (;;) {
    auto now = now_ns();
    if (got >= n || now - start > total_limit)
      break;
    if (last != 0 && now - last > idle_limit)
      break;
    if (last == 0 && now - start > 30000000000ull)
      break; // nothing at all within 30 s
    pollfd pfd{fd, POLLIN, 0};
    poll(&pfd, 1, 100);
    auto xs = sub.poll();
    if (xs.empty())
      continue;
    auto t = now_ns();
    if (first == 0)
      first = t;
    last = t;
    for (auto& x : xs) {
      auto s = event_seq(broker::get_data(x));
      if (s == next_expected)
        ++in_order;
      next_expected = s + 1;
    }
    got += xs.size();
  }
  double secs = first && last > first ? (last - first) / 1e9 : 0.0;
  double rate = secs > 0 ? double(got > 1 ? got - 1 : 0) / secs : 0.0;
  std::printf("RESULT broker tput api=%s qsize=%zu tls=%d caf_timer_us=%ld sent=%" PRIu64 " recv=%" PRIu64
              " in_order=%" PRIu64 " secs=%.3f rate=%.0f receiver_maxrss_kib=%ld\n",
              api.c_str(), qsize, int(tls), g_caf_timer_us, n, got, in_order, secs,
              rate, max_rss_kib());
  std::fflush(stdout);
  int rc = reap(child, 20000);
  return rc == 0 && got > 0 ? 0 : 1;
}

// ---------------------------------------------------------------- round trip

int mode_rtt(uint64_t n, bool tls) {
  auto child = spawn([&](int rfd, int wfd) {
    auto port = recv_port(rfd);
    broker::endpoint ep{make_config(tls)};
    auto sub = ep.make_subscriber({"bench/pong"});
    if (!ep.peer("127.0.0.1", port, broker::timeout::seconds(1)))
      die("pinger: peer failed");
    if (!wait_peer_subscription(ep, "bench/ping", 20000))
      die("pinger: ponger's subscription never arrived");
    // Warm up until a pong comes back (our own subscription must have reached the ponger).
    uint64_t seq = 1000000000ull;
    bool warm = false;
    for (int i = 0; i < 200 && !warm; ++i) {
      ep.publish("bench/ping", make_event(seq));
      auto deadline = now_ns() + 100000000ull;
      while (now_ns() < deadline) {
        auto x = sub.get(std::chrono::milliseconds(20));
        if (x && event_seq(broker::get_data(*x)) == seq) {
          warm = true;
          break;
        }
      }
      ++seq;
    }
    if (!warm)
      die("pinger: no pong during warm-up");
    std::this_thread::sleep_for(100ms);
    sub.poll(); // drop late warm-up pongs
    std::vector<double> us;
    us.reserve(n);
    uint64_t lost = 0;
    for (uint64_t i = 0; i < n; ++i) {
      auto t0 = now_ns();
      ep.publish("bench/ping", make_event(i));
      bool ok = false;
      while (!ok) {
        auto x = sub.get(std::chrono::milliseconds(2000));
        if (!x)
          break;
        ok = event_seq(broker::get_data(*x)) == i;
      }
      if (!ok) {
        ++lost;
        continue;
      }
      us.push_back((now_ns() - t0) / 1e3);
    }
    std::sort(us.begin(), us.end());
    auto pct = [&](double p) {
      return us.empty() ? 0.0 : us[std::min(us.size() - 1, size_t(p * double(us.size())))];
    };
    double sum = 0;
    for (auto v : us)
      sum += v;
    std::printf("RESULT broker rtt tls=%d caf_timer_us=%ld rounds=%" PRIu64 " ok=%zu lost=%" PRIu64
                " p50_us=%.1f p99_us=%.1f max_us=%.1f mean_us=%.1f\n",
                int(tls), g_caf_timer_us, n, us.size(), lost, pct(0.50), pct(0.99), us.empty() ? 0.0 : us.back(),
                us.empty() ? 0.0 : sum / double(us.size()));
    std::fflush(stdout);
    (void)wfd;
    return lost == n ? 1 : 0;
  });

  broker::endpoint ep{make_config(tls)};
  auto sub = ep.make_subscriber({"bench/ping"});
  auto port = listen_local(ep);
  write_all(child.to_child, &port, sizeof port);
  // Echo every ping until the pinger exits (its pipe end closes).
  int fd = sub.fd();
  for (;;) {
    pollfd pfds[2] = {{fd, POLLIN, 0}, {child.from_child, POLLIN, 0}};
    poll(pfds, 2, 100);
    for (auto& x : sub.poll())
      ep.publish("bench/pong", broker::get_data(x));
    if (pfds[1].revents & (POLLIN | POLLHUP))
      break;
  }
  return reap(child, 10000);
}

// ---------------------------------------------------------------- stores

// Polls st.get(key) until it returns a count >= want (or any value when want == 0).
bool wait_value(const broker::store& st, const broker::data& key, uint64_t want, int timeout_ms) {
  auto deadline = now_ns() + uint64_t(timeout_ms) * 1000000ull;
  while (now_ns() < deadline) {
    auto v = st.get(key);
    if (v) {
      auto c = caf::get_if<broker::count>(&*v);
      if (want == 0 || (c && *c >= want))
        return true;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return false;
}

// Puts n keys "<prefix><i>" -> count i, then waits until the store answers the last one.
double timed_puts(const broker::store& put_to, const broker::store& check_on,
                  const std::string& prefix, uint64_t n) {
  auto t0 = now_ns();
  for (uint64_t i = 0; i < n; ++i)
    put_to.put(prefix + std::to_string(i), broker::count(i + 1));
  if (!wait_value(check_on, prefix + std::to_string(n - 1), n, 60000))
    return -1;
  return (now_ns() - t0) / 1e9;
}

int mode_store(uint64_t n, const std::string& backend_name, const std::string& dir) {
  bool sqlite = backend_name == "sqlite";
  if (!sqlite && backend_name != "memory")
    die("store backend must be memory or sqlite");
  const std::string name = "bench-store";
  const uint64_t lat_samples = 200;

  auto child = spawn([&](int rfd, int wfd) {
    auto port = recv_port(rfd);
    broker::endpoint ep{make_config(false)};
    if (!ep.peer("127.0.0.1", port, broker::timeout::seconds(1)))
      die("clone: peer failed");
    broker::expected<broker::store> cl = broker::make_error(broker::ec::unspecified);
    auto deadline = now_ns() + 20000000000ull;
    while (now_ns() < deadline) {
      cl = ep.attach_clone(name);
      if (cl)
        break;
      std::this_thread::sleep_for(50ms);
    }
    if (!cl)
      die("clone: attach_clone failed");
    auto& clone = *cl;
    if (!wait_value(clone, broker::data{"ready"}, 1, 30000))
      die("clone: never saw the master's 'ready' key");
    // 1. puts issued on the clone, until the clone sees the last one (clone -> master -> clone).
    double secs = timed_puts(clone, clone, "c", n);
    std::printf("RESULT broker store backend=%s from=clone puts=%" PRIu64
                " secs=%.3f rate=%.0f\n",
                backend_name.c_str(), n, secs, secs > 0 ? n / secs : 0.0);
    std::fflush(stdout);
    // 2. tell the master to put; wait until the clone sees its last put.
    char cmd = 'P';
    write_all(wfd, &cmd, 1);
    auto t0 = now_ns();
    bool seen = wait_value(clone, broker::data{"m" + std::to_string(n - 1)}, n, 60000);
    std::printf("RESULT broker store backend=%s from=master_seen_by_clone puts=%" PRIu64
                " secs=%.3f rate=%.0f\n",
                backend_name.c_str(), n, seen ? (now_ns() - t0) / 1e9 : -1.0,
                seen ? n / ((now_ns() - t0) / 1e9) : 0.0);
    std::fflush(stdout);
    // 3. latency: the master writes its put time into "lat"; we poll until each value shows.
    cmd = 'L';
    write_all(wfd, &cmd, 1);
    std::vector<double> us;
    uint64_t last_seen = 0;
    auto end = now_ns() + 30000000000ull;
    broker::data lat_key{"lat"};
    broker::data idx_key{"lat_i"};
    while (now_ns() < end) {
      auto v = clone.get(lat_key);
      auto t = now_ns();
      if (v) {
        if (auto c = caf::get_if<broker::count>(&*v)) {
          if (*c != last_seen) {
            last_seen = *c;
            us.push_back((t - *c) / 1e3);
          }
        }
      }
      if (us.size() >= lat_samples)
        break;
      auto done = clone.get(broker::data{"lat_done"});
      if (done && us.size() > 0 && caf::get_if<broker::count>(&*done))
        break;
    }
    std::sort(us.begin(), us.end());
    auto pct = [&](double p) {
      return us.empty() ? 0.0 : us[std::min(us.size() - 1, size_t(p * double(us.size())))];
    };
    std::printf("RESULT broker store backend=%s from=visibility samples=%zu p50_us=%.1f"
                " p99_us=%.1f max_us=%.1f\n",
                backend_name.c_str(), us.size(), pct(0.5), pct(0.99),
                us.empty() ? 0.0 : us.back());
    std::fflush(stdout);
    cmd = 'Q';
    write_all(wfd, &cmd, 1);
    return 0;
  });

  broker::endpoint ep{make_config(false)};
  broker::backend_options opts;
  std::string path = dir + "/bench-store-" + std::to_string(getpid()) + ".sqlite";
  if (sqlite) {
    unlink(path.c_str());
    opts["path"] = path;
  }
  auto ms = ep.attach_master(name, sqlite ? broker::backend::sqlite : broker::backend::memory,
                             opts);
  if (!ms)
    die("attach_master failed");
  auto& master = *ms;
  // 0. puts from the master's own process, before any clone exists.
  double secs = timed_puts(master, master, "a", n);
  std::printf("RESULT broker store backend=%s from=master_no_clone puts=%" PRIu64
              " secs=%.3f rate=%.0f\n",
              backend_name.c_str(), n, secs, secs > 0 ? n / secs : 0.0);
  std::fflush(stdout);
  master.clear();
  master.put("ready", broker::count(1));
  auto port = listen_local(ep);
  write_all(child.to_child, &port, sizeof port);

  for (;;) {
    char cmd = 0;
    if (!read_all(child.from_child, &cmd, 1, 110000))
      break;
    if (cmd == 'P') {
      double s = timed_puts(master, master, "m", n);
      std::printf("RESULT broker store backend=%s from=master_with_clone puts=%" PRIu64
                  " secs=%.3f rate=%.0f\n",
                  backend_name.c_str(), n, s, s > 0 ? n / s : 0.0);
      std::fflush(stdout);
    } else if (cmd == 'L') {
      for (uint64_t i = 0; i < lat_samples; ++i) {
        master.put("lat", broker::count(now_ns()));
        std::this_thread::sleep_for(5ms);
      }
      master.put("lat_done", broker::count(1));
    } else if (cmd == 'Q') {
      break;
    }
  }
  int rc = reap(child, 10000);
  if (sqlite)
    unlink(path.c_str());
  return rc;
}

void usage() {
  std::fprintf(stderr,
               "usage: broker_bench tput N [--api endpoint|publisher|stream] [--qsize Q] [--tls]\n"
               "                         [--caf-timer-us T]\n"
               "       broker_bench rtt N [--tls] [--caf-timer-us T]\n"
               "       broker_bench store N memory|sqlite DIR\n");
  _exit(2);
}

} // namespace

int main(int argc, char** argv) {
  if (argc < 3)
    usage();
  std::string mode = argv[1];
  uint64_t n = std::strtoull(argv[2], nullptr, 10);
  if (n == 0)
    usage();
  bool tls = false;
  std::string api = "endpoint";
  size_t qsize = 20; // endpoint::make_subscriber's default in Broker 1.4
  std::vector<std::string> rest;
  for (int i = 3; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--tls")
      tls = true;
    else if (a == "--api" && i + 1 < argc)
      api = argv[++i];
    else if (a == "--caf-timer-us" && i + 1 < argc)
      g_caf_timer_us = std::strtol(argv[++i], nullptr, 10);
    else if (a == "--qsize" && i + 1 < argc)
      qsize = std::strtoul(argv[++i], nullptr, 10);
    else
      rest.push_back(a);
  }
  signal(SIGPIPE, SIG_IGN);
  if (mode == "tput")
    return mode_tput(n, api, qsize, tls);
  if (mode == "rtt")
    return mode_rtt(n, tls);
  if (mode == "store" && rest.size() == 2)
    return mode_store(n, rest[0], rest[1]);
  usage();
}
