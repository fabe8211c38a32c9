// The black-box harness: child processes, their log, and plain POSIX sockets with timeouts.
#include "tests/e2e/harness.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace faultline::e2e {
namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void throw_errno(const std::string& operation, int error) {
    throw std::runtime_error(operation + " failed: " + errno_name(error));
}

// Milliseconds left until the deadline, for poll(); never negative.
int remaining_ms(Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now()).count();
    return static_cast<int>(std::clamp<long long>(left, 0, 1'000'000));
}

// poll() until an event or the deadline, retrying on EINTR. Returns poll's result (0 = timeout).
int poll_until(pollfd* fds, nfds_t count, Clock::time_point deadline) {
    for (;;) {
        const int ready = ::poll(fds, count, remaining_ms(deadline));
        if (ready >= 0 || errno != EINTR) return ready;
    }
}

int poll_one(int fd, short events, Clock::time_point deadline, short* revents = nullptr) {
    pollfd entry{fd, events, 0};
    const int ready = poll_until(&entry, 1, deadline);
    if (revents != nullptr) *revents = entry.revents;
    return ready;
}

const sockaddr* as_sockaddr(const sockaddr_in& address) {
    return reinterpret_cast<const sockaddr*>(&address);
}

void set_blocking(int fd, bool blocking) {
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0) throw_errno("fcntl(F_GETFL)", errno);
    const int wanted = blocking ? (flags & ~O_NONBLOCK) : (flags | O_NONBLOCK);
    if (::fcntl(fd, F_SETFL, wanted) < 0) throw_errno("fcntl(F_SETFL)", errno);
}

std::pair<Fd, Fd> make_pipe() {
    std::array<int, 2> ends{};
    if (::pipe2(ends.data(), O_CLOEXEC) != 0) throw_errno("pipe2", errno);
    return {Fd(ends[0]), Fd(ends[1])};
}

// The environment for a child: ours, with `overrides` (NAME=VALUE) replacing or adding entries.
std::vector<std::string> child_environment(const std::vector<std::string>& overrides) {
    std::vector<std::string> result;
    for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
        const std::string_view text(*entry);
        const auto name = text.substr(0, text.find('=') + 1);
        const bool overridden =
            std::any_of(overrides.begin(), overrides.end(),
                        [&](const std::string& o) { return o.starts_with(name); });
        if (!overridden) result.emplace_back(text);
    }
    result.insert(result.end(), overrides.begin(), overrides.end());
    return result;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
    std::vector<char*> result;
    result.reserve(strings.size() + 1);
    for (auto& s : strings)
        result.push_back(s.data());
    result.push_back(nullptr);
    return result;
}

// fork + exec of FAULTLINE_BINARY with `args`; the child's stdin is /dev/null, stdout and stderr
// go to the given pipe ends. Between fork and exec only async-signal-safe calls are made.
pid_t spawn(const std::vector<std::string>& args, const SpawnOptions& options, int out_fd,
            int err_fd) {
    std::vector<std::string> argv_strings{FAULTLINE_BINARY};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<std::string> env_strings = child_environment(options.environment);
    const std::vector<char*> argv = c_strings(argv_strings);
    const std::vector<char*> envp = c_strings(env_strings);
    const Fd dev_null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!dev_null.is_open()) throw_errno("open /dev/null", errno);

    const pid_t pid = ::fork();
    if (pid < 0) throw_errno("fork", errno);
    if (pid == 0) {
        if (options.max_open_files) {
            const rlimit limit{*options.max_open_files, *options.max_open_files};
            if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) ::_exit(126);
        }
        if (::dup2(dev_null.get(), 0) < 0 || ::dup2(out_fd, 1) < 0 || ::dup2(err_fd, 2) < 0) {
            ::_exit(126);
        }
        ::close_range(3, ~0U, 0);
        ::execve(argv[0], argv.data(), envp.data());
        constexpr std::string_view message = "e2e harness: exec of " FAULTLINE_BINARY " failed\n";
        [[maybe_unused]] const auto written = ::write(2, message.data(), message.size());
        ::_exit(127);
    }
    return pid;
}

std::string string_field(const Json& object, const char* key) {
    if (!object.is_object() || !object.contains(key)) return "<missing>";
    const Json& value = object[key];
    return value.is_string() ? value.get<std::string>() : value.dump();
}

// Predicates look into records that may be malformed; a type error means "no match".
bool matches(const std::function<bool(const Json&)>& predicate, const Json& value) {
    try {
        return predicate(value);
    } catch (const Json::exception&) {
        return false;
    }
}

bool is_event(const Json& value, std::string_view event) {
    const auto found = value.find("event");
    return found != value.end() && found->is_string() && found->get<std::string>() == event;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Fd, errno

Fd& Fd::operator=(Fd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
}

int Fd::release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
}

void Fd::reset(int fd) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
}

std::string errno_name(int error) {
    if (error == 0) return "0";
    const char* name = ::strerrorname_np(error);
    return name != nullptr ? name : "errno " + std::to_string(error);
}

// ---------------------------------------------------------------------------------------------
// Addresses

sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return address;
}

sockaddr_in parse_address(std::string_view text) {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos)
        throw std::runtime_error("bad address: " + std::string(text));
    const std::string host(text.substr(0, colon));
    const std::string port_text(text.substr(colon + 1));
    char* end = nullptr;
    const unsigned long port = std::strtoul(port_text.c_str(), &end, 10);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    if (port_text.empty() || *end != '\0' || port > 65535 ||
        ::inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) {
        throw std::runtime_error("bad address: " + std::string(text));
    }
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    return address;
}

std::string address_text(const sockaddr_in& address) {
    std::array<char, INET_ADDRSTRLEN> host{};
    ::inet_ntop(AF_INET, &address.sin_addr, host.data(), host.size());
    return std::string(host.data()) + ":" + std::to_string(ntohs(address.sin_port));
}

namespace {

// getsockname or getpeername, as "127.0.0.1:PORT".
template <typename Getter>
std::string socket_address(int fd, Getter getter, const char* name) {
    sockaddr_in address{};
    socklen_t length = sizeof address;
    if (getter(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) throw_errno(name, errno);
    return address_text(address);
}

}  // namespace

std::string local_address(int fd) {
    return socket_address(fd, ::getsockname, "getsockname");
}

std::string peer_address(int fd) {
    return socket_address(fd, ::getpeername, "getpeername");
}

std::uint16_t unused_port() {
    const Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.is_open()) throw_errno("socket", errno);
    const sockaddr_in any_port = loopback(0);
    if (::bind(fd.get(), as_sockaddr(any_port), sizeof any_port) != 0) throw_errno("bind", errno);
    return ntohs(parse_address(local_address(fd.get())).sin_port);
}

// ---------------------------------------------------------------------------------------------
// Sockets

Listener listen_on_loopback(int backlog) {
    Listener listener;
    listener.fd.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!listener.fd.is_open()) throw_errno("socket", errno);
    const sockaddr_in any_port = loopback(0);
    if (::bind(listener.fd.get(), as_sockaddr(any_port), sizeof any_port) != 0) {
        throw_errno("bind 127.0.0.1:0", errno);
    }
    if (::listen(listener.fd.get(), backlog) != 0) throw_errno("listen", errno);
    listener.port = ntohs(parse_address(local_address(listener.fd.get())).sin_port);
    return listener;
}

Connected try_connect(const sockaddr_in& address, Millis timeout) {
    const auto deadline = Clock::now() + timeout;
    Connected result;
    result.fd.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!result.fd.is_open()) {
        result.error = errno;
        return result;
    }
    const sockaddr_in any_port = loopback(0);
    if (::bind(result.fd.get(), as_sockaddr(any_port), sizeof any_port) != 0) {
        result.error = errno;
        return result;
    }
    result.local_address = local_address(result.fd.get());
    if (::connect(result.fd.get(), as_sockaddr(address), sizeof address) != 0) {
        if (errno != EINPROGRESS) {
            result.error = errno;
            return result;
        }
        if (poll_one(result.fd.get(), POLLOUT, deadline) == 0) {
            result.error = ETIMEDOUT;
            return result;
        }
        int error = 0;
        socklen_t length = sizeof error;
        ::getsockopt(result.fd.get(), SOL_SOCKET, SO_ERROR, &error, &length);
        if (error != 0) {
            result.error = error;
            return result;
        }
    }
    set_blocking(result.fd.get(), true);
    return result;
}

Fd connect_to(const sockaddr_in& address, Millis timeout) {
    Connected connected = try_connect(address, timeout);
    if (connected.error != 0) throw_errno("connect to " + address_text(address), connected.error);
    return std::move(connected.fd);
}

std::string first_end(const Connected& connected, Millis timeout) {
    if (connected.error != 0) return errno_name(connected.error);
    return read_to_end(connected.fd.get(), timeout).describe();
}

Fd accept_from(int listen_fd, Millis timeout) {
    if (!has_pending_connection(listen_fd, timeout)) return {};
    return Fd(::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC));
}

bool has_pending_connection(int listen_fd, Millis timeout) {
    return poll_one(listen_fd, POLLIN, Clock::now() + timeout) > 0;
}

int send_all(int fd, std::string_view bytes, Millis timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!bytes.empty()) {
        const ssize_t sent = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent >= 0) {
            bytes.remove_prefix(static_cast<std::size_t>(sent));
            continue;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return errno;
        if (poll_one(fd, POLLOUT, deadline) == 0) return ETIMEDOUT;
    }
    return 0;
}

long send_once(int fd, std::string_view bytes) {
    const ssize_t sent = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    return sent >= 0 ? static_cast<long>(sent) : -static_cast<long>(errno);
}

namespace {

// Reads into `received` until `want` bytes, EOF, an error or the deadline.
void receive(int fd, Received& received, std::size_t want, Clock::time_point deadline) {
    std::vector<char> buffer(std::size_t{1} << 16);
    while (received.bytes.size() < want) {
        const std::size_t room = std::min(buffer.size(), want - received.bytes.size());
        const ssize_t got = ::recv(fd, buffer.data(), room, MSG_DONTWAIT);
        if (got > 0) {
            received.bytes.append(buffer.data(), static_cast<std::size_t>(got));
            continue;
        }
        if (got == 0) {
            received.eof = true;
            return;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            received.error = errno;
            return;
        }
        if (poll_one(fd, POLLIN, deadline) == 0) {
            received.error = ETIMEDOUT;
            return;
        }
    }
}

}  // namespace

Received recv_exact(int fd, std::size_t n, Millis timeout) {
    Received received;
    received.bytes.reserve(n);
    receive(fd, received, n, Clock::now() + timeout);
    return received;
}

Received recv_until_eof(int fd, Millis timeout, std::size_t limit) {
    Received received;
    receive(fd, received, limit, Clock::now() + timeout);
    return received;
}

std::string ReadResult::describe() const {
    switch (kind) {
        case Kind::data:
            return "data";
        case Kind::eof:
            return "EOF";
        case Kind::error:
            return errno_name(error);
        case Kind::timeout:
            return "timeout";
    }
    return "?";
}

namespace {

ReadResult read_once(int fd, Clock::time_point deadline, std::string* out) {
    ReadResult result;
    std::array<char, 1 << 16> buffer{};
    for (;;) {
        const ssize_t got = ::recv(fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
        if (got > 0) {
            result.kind = ReadResult::Kind::data;
            result.bytes = static_cast<std::size_t>(got);
            if (out != nullptr) out->append(buffer.data(), result.bytes);
            return result;
        }
        if (got == 0) {
            result.kind = ReadResult::Kind::eof;
            return result;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            result.kind = ReadResult::Kind::error;
            result.error = errno;
            return result;
        }
        if (poll_one(fd, POLLIN, deadline) == 0) {
            result.kind = ReadResult::Kind::timeout;
            return result;
        }
    }
}

}  // namespace

ReadResult read_result(int fd, Millis timeout, std::string* out) {
    return read_once(fd, Clock::now() + timeout, out);
}

ReadResult read_to_end(int fd, Millis timeout) {
    const auto deadline = Clock::now() + timeout;
    std::size_t total = 0;
    for (;;) {
        ReadResult result = read_once(fd, deadline, nullptr);
        if (result.kind != ReadResult::Kind::data) {
            result.bytes = total;
            return result;
        }
        total += result.bytes;
    }
}

Millis Deadline::remaining() const {
    const auto left = std::chrono::duration_cast<Millis>(end_ - Clock::now());
    return std::max(left, Millis{0});
}

int poll_until(std::vector<pollfd>& fds, const Deadline& deadline) {
    for (;;) {
        const auto left = std::min<Millis::rep>(deadline.remaining().count(), 1'000'000);
        const int ready = ::poll(fds.data(), fds.size(), static_cast<int>(left));
        if (ready >= 0 || errno != EINTR) return ready;
    }
}

void set_linger_reset(int fd) {
    const linger abort_on_close{1, 0};
    if (::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close) != 0) {
        throw_errno("setsockopt(SO_LINGER)", errno);
    }
}

short wait_poll(int fd, short events, Millis timeout) {
    short revents = 0;
    if (poll_one(fd, events, Clock::now() + timeout, &revents) <= 0) return 0;
    return revents;
}

// ---------------------------------------------------------------------------------------------
// Processes

bool ExitStatus::exited() const {
    return WIFEXITED(raw);
}

int ExitStatus::code() const {
    return WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
}

std::string ExitStatus::describe() const {
    if (WIFEXITED(raw)) return "exit " + std::to_string(WEXITSTATUS(raw));
    if (WIFSIGNALED(raw)) {
        const char* name = ::sigabbrev_np(WTERMSIG(raw));
        return "signal " + std::string(name != nullptr ? name : std::to_string(WTERMSIG(raw)));
    }
    return "status " + std::to_string(raw);
}

TempConfig::TempConfig(std::string_view toml) {
    const char* tmpdir = std::getenv("TMPDIR");
    std::string path_template =
        std::string(tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp") +
        "/faultline-e2e-XXXXXX.toml";
    const Fd fd(::mkstemps(path_template.data(), 5));
    if (!fd.is_open()) throw_errno("mkstemps " + path_template, errno);
    path_ = path_template;
    std::string_view rest = toml;
    while (!rest.empty()) {
        const ssize_t written = ::write(fd.get(), rest.data(), rest.size());
        if (written < 0) throw_errno("write " + path_, errno);
        rest.remove_prefix(static_cast<std::size_t>(written));
    }
}

TempConfig::~TempConfig() {
    ::unlink(path_.c_str());
}

std::string proxy_config(std::uint16_t upstream_port, std::string_view settings,
                         std::string_view name) {
    std::ostringstream toml;
    toml << "[[proxy]]\n"
         << "name = \"" << name << "\"\n"
         << "listen = \"127.0.0.1:0\"\n"
         << "upstream = \"127.0.0.1:" << upstream_port << "\"\n"
         << settings << "\n";
    return toml.str();
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream file(path, std::ios::binary);
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
}

std::vector<std::string> Faultline::serve_args(const std::string& config_path) {
    return {"serve",        "--config", config_path,   "--api", "127.0.0.1:0",
            "--log-format", "json",     "--log-level", "debug"};
}

Faultline::Faultline(const TempConfig& config, const SpawnOptions& options)
    : Faultline(serve_args(config.path()), options) {}

namespace {

// The Faultline objects alive now, so that a failing check can print their logs.
std::mutex live_mutex;
std::vector<const Faultline*> live_faultlines;

}  // namespace

Faultline::Faultline(const std::vector<std::string>& args, const SpawnOptions& options) {
    start(args, options);
    const std::lock_guard lock(live_mutex);
    live_faultlines.push_back(this);
}

std::string Faultline::live_log_tails() {
    const std::lock_guard lock(live_mutex);
    std::string text;
    for (const Faultline* faultline : live_faultlines)
        text += faultline->log_tail();
    return text;
}

void Faultline::start(const std::vector<std::string>& args, const SpawnOptions& options) {
    auto [err_read, err_write] = make_pipe();
    auto [out_read, out_write] = make_pipe();
    auto [wake_read, wake_write] = make_pipe();
    pid_ = spawn(args, options, out_write.get(), err_write.get());
    stderr_ = std::move(err_read);
    stdout_ = std::move(out_read);
    wake_read_ = std::move(wake_read);
    wake_write_ = std::move(wake_write);
    reader_ = std::thread([this] { read_output(); });
}

Faultline::~Faultline() {
    {
        const std::lock_guard lock(live_mutex);
        std::erase(live_faultlines, this);
    }
    if (!exit_status_ && pid_ > 0) {
        ::kill(pid_, SIGKILL);
        reap(0);
    }
    if (wake_write_.is_open()) {
        const char byte = 0;
        [[maybe_unused]] const auto written = ::write(wake_write_.get(), &byte, 1);
    }
    if (reader_.joinable()) reader_.join();
}

void Faultline::reap(int flags) {
    int status = 0;
    pid_t reaped = 0;
    do {
        reaped = ::waitpid(pid_, &status, flags);
    } while (reaped < 0 && errno == EINTR);
    if (reaped == pid_) exit_status_ = ExitStatus{status};
}

void Faultline::read_output() {
    std::string pending;
    std::vector<char> buffer(std::size_t{1} << 16);
    bool err_open = true;
    bool out_open = true;
    while (err_open || out_open) {
        std::array<pollfd, 3> fds{{{err_open ? stderr_.get() : -1, POLLIN, 0},
                                   {out_open ? stdout_.get() : -1, POLLIN, 0},
                                   {wake_read_.get(), POLLIN, 0}}};
        if (::poll(fds.data(), fds.size(), -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (fds[2].revents != 0) break;
        if (fds[0].revents != 0) {
            const ssize_t got = ::read(stderr_.get(), buffer.data(), buffer.size());
            if (got > 0) {
                pending.append(buffer.data(), static_cast<std::size_t>(got));
            } else if (got == 0 || errno != EINTR) {
                err_open = false;
            }
            take_lines(pending, !err_open);
        }
        if (fds[1].revents != 0) {
            const ssize_t got = ::read(stdout_.get(), buffer.data(), buffer.size());
            if (got > 0) {
                const std::lock_guard lock(mutex_);
                stdout_text_.append(buffer.data(), static_cast<std::size_t>(got));
                changed_.notify_all();
            } else if (got == 0 || errno != EINTR) {
                out_open = false;
            }
        }
    }
    const std::lock_guard lock(mutex_);
    output_closed_ = true;
    changed_.notify_all();
}

void Faultline::take_lines(std::string& pending, bool at_eof) {
    std::vector<Line> complete;
    std::size_t start = 0;
    for (std::size_t newline = pending.find('\n'); newline != std::string::npos;
         newline = pending.find('\n', start)) {
        complete.push_back({pending.substr(start, newline - start), {}});
        start = newline + 1;
    }
    pending.erase(0, start);
    if (at_eof && !pending.empty()) {
        complete.push_back({std::move(pending), {}});
        pending.clear();
    }
    if (complete.empty()) return;
    for (Line& line : complete) {
        Json parsed = Json::parse(line.text, nullptr, false);
        line.value = parsed.is_object() ? std::move(parsed) : Json(Json::value_t::discarded);
    }
    const std::lock_guard lock(mutex_);
    for (Line& line : complete)
        lines_.push_back(std::move(line));
    changed_.notify_all();
}

std::optional<Json> Faultline::wait_event(const Predicate& predicate, Millis timeout) {
    const auto deadline = Clock::now() + timeout;
    std::unique_lock lock(mutex_);
    std::size_t next = 0;
    for (;;) {
        for (; next < lines_.size(); ++next) {
            const Json& value = lines_[next].value;
            if (!value.is_discarded() && matches(predicate, value)) return value;
        }
        if (output_closed_ || Clock::now() >= deadline) return std::nullopt;
        changed_.wait_until(lock, deadline);
    }
}

std::optional<Json> Faultline::wait_event(std::string_view event, Millis timeout) {
    return wait_event([event](const Json& value) { return is_event(value, event); }, timeout);
}

std::optional<std::string> Faultline::wait_stdout(
    const std::function<bool(const std::string&)>& predicate, Millis timeout) {
    const auto deadline = Clock::now() + timeout;
    std::unique_lock lock(mutex_);
    for (;;) {
        if (predicate(stdout_text_)) return stdout_text_;
        if (output_closed_ || Clock::now() >= deadline) return std::nullopt;
        changed_.wait_until(lock, deadline);
    }
}

bool Faultline::wait_ready(Millis timeout) {
    return wait_event("ready", timeout).has_value();
}

std::string Faultline::proxy_address(std::string_view name) {
    const auto listening = wait_event(
        [name](const Json& value) {
            return is_event(value, "listening") && value.value("kind", "") == "proxy" &&
                   value.value("proxy", "") == name;
        },
        event_timeout);
    if (!listening || !listening->contains("address") || !(*listening)["address"].is_string()) {
        throw std::runtime_error("no `listening` event with an address for proxy " +
                                 std::string(name) + "; log:\n" + log_tail());
    }
    return (*listening)["address"].get<std::string>();
}

sockaddr_in Faultline::proxy_sockaddr(std::string_view name) {
    return parse_address(proxy_address(name));
}

std::vector<Json> Faultline::teardowns() const {
    const std::lock_guard lock(mutex_);
    std::vector<Json> records;
    for (const Line& line : lines_) {
        if (!line.value.is_discarded() && is_event(line.value, "teardown")) {
            records.push_back(line.value);
        }
    }
    return records;
}

std::optional<Json> Faultline::wait_teardown(const Predicate& predicate, Millis timeout) {
    return wait_event(
        [&predicate](const Json& value) { return is_event(value, "teardown") && predicate(value); },
        timeout);
}

std::optional<Json> Faultline::wait_teardown_of(std::string_view client_address, Millis timeout) {
    return wait_teardown(
        [client_address](const Json& record) {
            return record.at("client").at("address").get<std::string>() == client_address;
        },
        timeout);
}

std::vector<Json> Faultline::wait_teardown_count(std::size_t count, Millis timeout) {
    const auto deadline = Clock::now() + timeout;
    std::unique_lock lock(mutex_);
    for (;;) {
        const auto seen = std::count_if(lines_.begin(), lines_.end(), [](const Line& line) {
            return !line.value.is_discarded() && is_event(line.value, "teardown");
        });
        if (static_cast<std::size_t>(seen) >= count || output_closed_ || Clock::now() >= deadline) {
            break;
        }
        changed_.wait_until(lock, deadline);
    }
    lock.unlock();
    return teardowns();
}

bool Faultline::signal(int sig) {
    if (exit_status_ || pid_ <= 0) return false;
    return ::kill(pid_, sig) == 0;
}

std::optional<ExitStatus> Faultline::wait_exit(Millis timeout) {
    if (exit_status_) return exit_status_;
    const auto deadline = Clock::now() + timeout;
    const Fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0)));
    if (pidfd.is_open()) {
        if (poll_one(pidfd.get(), POLLIN, deadline) > 0) reap(0);
        return exit_status_;
    }
    // No pidfd (old kernel): poll waitpid.
    for (;;) {
        reap(WNOHANG);
        if (exit_status_ || Clock::now() >= deadline) return exit_status_;
        std::this_thread::sleep_for(5ms);
    }
}

bool Faultline::is_running() {
    if (!exit_status_) reap(WNOHANG);
    return !exit_status_;
}

long Faultline::rss_kib() const {
    std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.starts_with("VmRSS:")) return std::strtol(line.c_str() + 6, nullptr, 10);
    }
    return -1;
}

std::string Faultline::log_tail(std::size_t max_lines) const {
    const std::lock_guard lock(mutex_);
    std::string text = "--- faultline stderr";
    const std::size_t first = lines_.size() > max_lines ? lines_.size() - max_lines : 0;
    if (first > 0) text += " (last " + std::to_string(max_lines) + " lines)";
    text += " ---\n";
    for (std::size_t i = first; i < lines_.size(); ++i)
        text += lines_[i].text + "\n";
    if (!stdout_text_.empty()) {
        constexpr std::size_t stdout_max = 4096;
        text += "--- faultline stdout ---\n";
        text += stdout_text_.size() > stdout_max
                    ? stdout_text_.substr(stdout_text_.size() - stdout_max)
                    : stdout_text_;
    }
    return text;
}

std::string summary(const Json& record) {
    const auto endpoint = [&record](const char* side) {
        if (!record.is_object() || !record.contains(side)) return std::string("<missing>");
        const Json& leg = record[side];
        return string_field(leg, "state") + "/" + string_field(leg, "reason");
    };
    return "reason=" + string_field(record, "reason") +
           " initiator=" + string_field(record, "initiator") + " client=" + endpoint("client") +
           " server=" + endpoint("server");
}

ProcessResult run_faultline(const std::vector<std::string>& args, Millis timeout) {
    const auto deadline = Clock::now() + timeout;
    auto [out_read, out_write] = make_pipe();
    auto [err_read, err_write] = make_pipe();
    const pid_t pid = spawn(args, {}, out_write.get(), err_write.get());
    out_write.reset();
    err_write.reset();

    ProcessResult result;
    std::vector<char> buffer(std::size_t{1} << 16);
    std::array<std::pair<Fd*, std::string*>, 2> streams{
        {{&out_read, &result.out}, {&err_read, &result.err}}};
    while (out_read.is_open() || err_read.is_open()) {
        std::array<pollfd, 2> fds{{{out_read.get(), POLLIN, 0}, {err_read.get(), POLLIN, 0}}};
        if (poll_until(fds.data(), fds.size(), deadline) == 0) {
            result.timed_out = true;
            ::kill(pid, SIGKILL);
            break;
        }
        for (std::size_t i = 0; i < streams.size(); ++i) {
            if (fds[i].revents == 0) continue;
            const ssize_t got = ::read(streams[i].first->get(), buffer.data(), buffer.size());
            if (got > 0) {
                streams[i].second->append(buffer.data(), static_cast<std::size_t>(got));
            } else if (got == 0 || errno != EINTR) {
                streams[i].first->reset();
            }
        }
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    result.status = ExitStatus{status};
    return result;
}

ProcessResult check_config(const std::string& path) {
    return run_faultline({"check", path});
}

// ---------------------------------------------------------------------------------------------
// Fixture

ProxyFixture::ProxyFixture(std::string_view settings, const SpawnOptions& options,
                           int server_backlog)
    : server(listen_on_loopback(server_backlog)),
      config(proxy_config(server.port, settings)),
      faultline(config, options) {
    if (!faultline.wait_ready()) {
        throw std::runtime_error("faultline did not log `ready`\n" + faultline.log_tail());
    }
    proxy = faultline.proxy_sockaddr("p");
}

Session ProxyFixture::open_session() {
    Session session;
    session.client = connect_to(proxy);
    session.client_address = local_address(session.client.get());
    session.server = accept_from(server.fd.get());
    if (!session.server.is_open()) {
        throw std::runtime_error("the server accepted no connection from the proxy within " +
                                 std::to_string(io_timeout.count()) + " ms\n" +
                                 faultline.log_tail());
    }
    return session;
}

void ProxyFixture::round_trip(Session& session) {
    const auto exchange = [](int from, int to, std::string_view message) {
        if (const int error = send_all(from, message); error != 0) {
            throw std::runtime_error("round trip: send failed: " + errno_name(error));
        }
        const Received got = recv_exact(to, message.size());
        if (got.bytes != message) {
            throw std::runtime_error("round trip: expected '" + std::string(message) + "', got '" +
                                     got.bytes + "' (eof=" + std::to_string(got.eof) +
                                     ", error=" + errno_name(got.error) + ")");
        }
    };
    exchange(session.client.get(), session.server.get(), "ping");
    exchange(session.server.get(), session.client.get(), "pong");
}

SpawnOptions without_asan_quarantine() {
    const char* inherited = std::getenv("ASAN_OPTIONS");
    std::string options = inherited != nullptr ? std::string(inherited) + ":" : "";
    options += "quarantine_size_mb=0:thread_local_quarantine_size_kb=0";
    return SpawnOptions{.max_open_files = std::nullopt, .environment = {"ASAN_OPTIONS=" + options}};
}

SessionFixture::SessionFixture(std::string_view settings, bool is_round_trip_first,
                               const SpawnOptions& options)
    : ProxyFixture(settings, options), session(open_session()) {
    if (!is_round_trip_first) return;
    try {
        round_trip(session);
    } catch (const std::runtime_error& e) {
        throw std::runtime_error(std::string(e.what()) + "\n" + faultline.log_tail());
    }
}

}  // namespace faultline::e2e
