// The black-box harness: starts the built faultline binary as a child process, reads its JSON log,
// and talks to its listeners with ordinary POSIX sockets on 127.0.0.1, the way a user's client and
// server would. Every wait here has a timeout; nothing sleeps for something that can be awaited.
#pragma once

#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace faultline::e2e {

using namespace std::chrono_literals;
using Millis = std::chrono::milliseconds;
using Json = nlohmann::json;

// Generous bounds for things that normally take microseconds; they only matter when a test fails.
constexpr Millis event_timeout = 5s;
constexpr Millis io_timeout = 5s;

// ---------------------------------------------------------------------------------------------
// Descriptors and errno

// Owns one file descriptor; move-only.
class Fd {
  public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    Fd(Fd&& other) noexcept : fd_(other.release()) {}
    Fd& operator=(Fd&& other) noexcept;
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() { reset(); }

    [[nodiscard]] int get() const { return fd_; }
    [[nodiscard]] bool is_open() const { return fd_ >= 0; }
    int release();
    void reset(int fd = -1);

  private:
    int fd_ = -1;
};

// "ECONNRESET", "EPIPE", ... ("0" for no error).
[[nodiscard]] std::string errno_name(int error);

// ---------------------------------------------------------------------------------------------
// Addresses

[[nodiscard]] sockaddr_in loopback(std::uint16_t port);
// "127.0.0.1:5432"; throws std::runtime_error when malformed.
[[nodiscard]] sockaddr_in parse_address(std::string_view text);
[[nodiscard]] std::string address_text(const sockaddr_in& address);
// getsockname / getpeername as "127.0.0.1:PORT".
[[nodiscard]] std::string local_address(int fd);
[[nodiscard]] std::string peer_address(int fd);

// A port that nothing listens on: binds port 0, reads the port, closes the socket.
[[nodiscard]] std::uint16_t unused_port();

// ---------------------------------------------------------------------------------------------
// Sockets (blocking descriptors, every wait through poll() with a timeout)

struct Listener {
    Fd fd;
    std::uint16_t port = 0;
    [[nodiscard]] sockaddr_in address() const { return loopback(port); }
    [[nodiscard]] std::string text() const { return address_text(address()); }
};

// Listens on 127.0.0.1:0 with the given backlog.
[[nodiscard]] Listener listen_on_loopback(int backlog = 128);

struct Connected {
    Fd fd;
    int error = 0;  // 0, or the errno that ended the attempt (ETIMEDOUT when the timeout passed)
    std::string local_address;  // known even when the attempt failed: the socket is bound first
};
// Binds a socket to 127.0.0.1:0, then connects it. When the peer accepts and resets at once, the
// reset may arrive before connect() is seen to complete: the attempt then ends with ECONNRESET,
// as a blocking connect() in an application would.
[[nodiscard]] Connected try_connect(const sockaddr_in& address, Millis timeout = io_timeout);
// As try_connect, but throws std::runtime_error naming the address and the error.
[[nodiscard]] Fd connect_to(const sockaddr_in& address, Millis timeout = io_timeout);

// What a client that connects and then reads sees first: the connect's own error, or how its
// reads end ("ECONNRESET", "EOF", "timeout", ...). Data before the end is discarded.
[[nodiscard]] std::string first_end(const Connected& connected, Millis timeout = io_timeout);

// Waits for a pending connection and accepts it; a closed Fd when none came within the timeout.
[[nodiscard]] Fd accept_from(int listen_fd, Millis timeout = io_timeout);
// True when the listener has a connection waiting to be accepted within the timeout.
[[nodiscard]] bool has_pending_connection(int listen_fd, Millis timeout);

// Sends every byte (MSG_NOSIGNAL). Returns 0, the errno of the failed send, or ETIMEDOUT.
[[nodiscard]] int send_all(int fd, std::string_view bytes, Millis timeout = io_timeout);
// One non-blocking send(MSG_NOSIGNAL); returns the byte count, or -errno.
[[nodiscard]] long send_once(int fd, std::string_view bytes);

struct Received {
    std::string bytes;
    bool eof = false;  // the peer's FIN was read
    int error = 0;     // errno of the failed recv, or ETIMEDOUT
};
// Reads exactly n bytes unless EOF, an error or the timeout comes first.
[[nodiscard]] Received recv_exact(int fd, std::size_t n, Millis timeout = io_timeout);
// Reads until EOF, an error, the timeout, or `limit` bytes.
[[nodiscard]] Received recv_until_eof(int fd, Millis timeout = io_timeout,
                                      std::size_t limit = std::size_t{1} << 30);

// The outcome of one read as an application sees it.
struct ReadResult {
    enum class Kind { data, eof, error, timeout };
    Kind kind = Kind::timeout;
    std::size_t bytes = 0;  // data: bytes read by this call; read_to_end: bytes read before the end
    int error = 0;          // Kind::error only
    // "data", "EOF", "ECONNRESET", "timeout": compare against it so a failure prints both sides.
    [[nodiscard]] std::string describe() const;
};
// Waits (poll) up to `timeout` for the socket to become readable, then one recv.
[[nodiscard]] ReadResult read_result(int fd, Millis timeout = io_timeout,
                                     std::string* out = nullptr);
// Reads and discards data until EOF, an error or the timeout, and returns that end.
[[nodiscard]] ReadResult read_to_end(int fd, Millis timeout = io_timeout);

// A point in time that waits count down to, so a loop of waits shares one bound.
class Deadline {
  public:
    explicit Deadline(Millis timeout) : end_(std::chrono::steady_clock::now() + timeout) {}
    [[nodiscard]] Millis remaining() const;
    [[nodiscard]] bool has_passed() const { return std::chrono::steady_clock::now() >= end_; }

  private:
    std::chrono::steady_clock::time_point end_;
};

// poll() over `fds` until an event or the deadline, retrying on EINTR; poll's result (0 = timeout).
[[nodiscard]] int poll_until(std::vector<pollfd>& fds, const Deadline& deadline);

// SO_LINGER {1, 0}: the next close() sends RST.
void set_linger_reset(int fd);
// Waits until poll() reports one of `events` (POLLERR/POLLHUP are always reported); returns the
// revents seen, or 0 on timeout.
[[nodiscard]] short wait_poll(int fd, short events, Millis timeout);

// A whole file's text; empty when it cannot be read.
[[nodiscard]] std::string read_file(const std::filesystem::path& path);

// ---------------------------------------------------------------------------------------------
// Processes

struct ExitStatus {
    int raw = 0;  // as waitpid reports it
    [[nodiscard]] bool exited() const;
    [[nodiscard]] int code() const;
    // "exit 0", "signal 11"
    [[nodiscard]] std::string describe() const;
};

struct SpawnOptions {
    std::optional<rlim_t> max_open_files;  // RLIMIT_NOFILE for the child
    std::vector<std::string> environment;  // extra NAME=VALUE entries, replacing inherited ones
};

// For a test that measures faultline's memory: ASan's quarantine (when the suite runs under
// AddressSanitizer) would hold freed memory and hide what is really in use.
[[nodiscard]] SpawnOptions without_asan_quarantine();

// A configuration file in the temporary directory, removed on destruction.
class TempConfig {
  public:
    explicit TempConfig(std::string_view toml);
    TempConfig(const TempConfig&) = delete;
    TempConfig& operator=(const TempConfig&) = delete;
    ~TempConfig();
    [[nodiscard]] const std::string& path() const { return path_; }

  private:
    std::string path_;
};

// One [[proxy]] named `name` on 127.0.0.1:0 in front of 127.0.0.1:upstream_port; `settings` are
// extra TOML lines inside that table (`idle_timeout = "300ms"`).
[[nodiscard]] std::string proxy_config(std::uint16_t upstream_port, std::string_view settings = "",
                                       std::string_view name = "p");

// A running `faultline` process. Its standard error (JSON log lines) and standard output are read
// by a background thread, so the child never blocks on a full pipe; every line is kept, so a wait
// also finds lines that arrived before it started. The destructor kills (SIGKILL) and reaps.
class Faultline {
  public:
    using Predicate = std::function<bool(const Json&)>;

    // `serve --config FILE --api 127.0.0.1:0 --log-format json --log-level debug`
    explicit Faultline(const TempConfig& config, const SpawnOptions& options = {});
    // Arguments after the program name.
    explicit Faultline(const std::vector<std::string>& args, const SpawnOptions& options = {});
    Faultline(const Faultline&) = delete;
    Faultline& operator=(const Faultline&) = delete;
    ~Faultline();

    [[nodiscard]] static std::vector<std::string> serve_args(const std::string& config_path);

    [[nodiscard]] pid_t pid() const { return pid_; }

    // The first JSON log object (in order of arrival) that satisfies the predicate; nullopt when
    // none came within the timeout or the process closed its standard error.
    [[nodiscard]] std::optional<Json> wait_event(const Predicate& predicate,
                                                 Millis timeout = event_timeout);
    [[nodiscard]] std::optional<Json> wait_event(std::string_view event,
                                                 Millis timeout = event_timeout);
    // Standard output read so far, once `predicate` holds for it; nullopt when it did not within
    // the timeout or the process closed its outputs first.
    [[nodiscard]] std::optional<std::string> wait_stdout(
        const std::function<bool(const std::string&)>& predicate, Millis timeout = event_timeout);
    // Waits for {"event":"ready"}.
    [[nodiscard]] bool wait_ready(Millis timeout = event_timeout);
    // From the proxy's `listening` event (waited for); throws std::runtime_error when absent.
    [[nodiscard]] std::string proxy_address(std::string_view name);
    [[nodiscard]] sockaddr_in proxy_sockaddr(std::string_view name);

    // Every teardown record read so far.
    [[nodiscard]] std::vector<Json> teardowns() const;
    [[nodiscard]] std::optional<Json> wait_teardown(const Predicate& predicate,
                                                    Millis timeout = event_timeout);
    // The record whose client.address is `client_address` ("127.0.0.1:PORT").
    [[nodiscard]] std::optional<Json> wait_teardown_of(std::string_view client_address,
                                                       Millis timeout = event_timeout);
    // Waits until at least `count` records arrived; returns all records read by then.
    [[nodiscard]] std::vector<Json> wait_teardown_count(std::size_t count,
                                                        Millis timeout = event_timeout);

    // kill(pid, sig); false when the process is already reaped.
    bool signal(int sig);
    [[nodiscard]] std::optional<ExitStatus> wait_exit(Millis timeout = event_timeout);
    [[nodiscard]] bool is_running();
    // VmRSS from /proc/<pid>/status in KiB; -1 when unavailable.
    [[nodiscard]] long rss_kib() const;

    // The last `max_lines` lines of standard error and all of standard output. A failing check
    // prints it for every faultline alive at that moment (log_on_failure.cpp).
    [[nodiscard]] std::string log_tail(std::size_t max_lines = 60) const;
    // The log tails of the faultline processes alive now, for failure messages.
    [[nodiscard]] static std::string live_log_tails();

  private:
    struct Line {
        std::string text;
        Json value;  // discarded (is_discarded()) when the line is not a JSON object
    };

    void start(const std::vector<std::string>& args, const SpawnOptions& options);
    void read_output();
    void take_lines(std::string& pending, bool at_eof);
    void reap(int flags);

    pid_t pid_ = -1;
    std::optional<ExitStatus> exit_status_;
    Fd stderr_;
    Fd stdout_;
    Fd wake_read_;
    Fd wake_write_;
    std::thread reader_;

    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<Line> lines_;  // standard error
    std::string stdout_text_;
    bool output_closed_ = false;
};

// "reason=Reset-O initiator=server client=rst_sent/Reset-O server=rst_received/Reset-O", from a
// teardown record, so that one CHECK compares the whole classification and prints it on failure.
[[nodiscard]] std::string summary(const Json& record);

// ---------------------------------------------------------------------------------------------
// One-shot commands (`faultline check FILE`)

struct ProcessResult {
    ExitStatus status;
    bool timed_out = false;
    std::string out;
    std::string err;
};
// Runs FAULTLINE_BINARY with `args`, capturing both outputs; killed after the timeout.
[[nodiscard]] ProcessResult run_faultline(const std::vector<std::string>& args,
                                          Millis timeout = 10s);
[[nodiscard]] ProcessResult check_config(const std::string& path);

// ---------------------------------------------------------------------------------------------
// Fixture: a server listener and a faultline with one proxy "p" in front of it, ready.

struct Session {
    Fd client;                   // connected to the proxy
    Fd server;                   // accepted from the server listener
    std::string client_address;  // the client's local address: the record's client.address
};

class ProxyFixture {
  public:
    // `settings`: extra lines of the [[proxy]] table. Throws when faultline does not start.
    explicit ProxyFixture(std::string_view settings = "", const SpawnOptions& options = {},
                          int server_backlog = 128);

    // Connects a client through the proxy and accepts the upstream connection at the server.
    // Throws std::runtime_error when either step does not happen within io_timeout.
    [[nodiscard]] Session open_session();
    // "ping" from the client to the server and "pong" back: the session is fully established.
    void round_trip(Session& session);

    Listener server;
    TempConfig config;
    Faultline faultline;
    sockaddr_in proxy{};
};

// A ProxyFixture with one session through it, opened at construction; with a round trip first
// (ping, pong) unless `is_round_trip_first` is false. Throws, with the log's tail, when faultline
// does not start or the session does not work.
class SessionFixture : public ProxyFixture {
  public:
    explicit SessionFixture(std::string_view settings = "", bool is_round_trip_first = true,
                            const SpawnOptions& options = {});

    Session session;
};

}  // namespace faultline::e2e
