// faultline's benchmark (docs/performance.md): the same workloads run directly against local
// servers and through a faultline started by the benchmark, in one run, and the figures are printed
// side by side with ratios. The machine is shared and noisy, so each figure is the median of
// several rounds, and direct and proxied rounds alternate.
//
// usage: faultline_bench [--faultline PATH] [--rounds N] [--seconds S] [--idle N]
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

[[noreturn]] void fail(const std::string& what) {
    throw std::runtime_error(what + ": " + std::strerror(errno));
}

sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return address;
}

std::uint16_t port_of(const std::string& host_port) {
    return static_cast<std::uint16_t>(std::stoi(host_port.substr(host_port.rfind(':') + 1)));
}

int connect_to(std::uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) fail("socket");
    sockaddr_in address = loopback(port);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        ::close(fd);
        fail("connect to 127.0.0.1:" + std::to_string(port));
    }
    int one = 1;
    (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

bool send_all(int fd, const char* data, std::size_t size) {
    while (size > 0) {
        ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        data += n;
        size -= static_cast<std::size_t>(n);
    }
    return true;
}

bool recv_exact(int fd, char* data, std::size_t size) {
    while (size > 0) {
        ssize_t n = ::recv(fd, data, size, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        data += n;
        size -= static_cast<std::size_t>(n);
    }
    return true;
}

// A local server on 127.0.0.1, one epoll thread: `echo` sends back what it reads, `sink` reads
// and discards (and closes at EOF). It counts the connections it accepted.
class Server {
  public:
    enum class Mode { echo, sink };

    explicit Server(Mode mode) : mode_(mode) {
        listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int one = 1;
        (void)::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in address = loopback(0);
        if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
            ::listen(listen_fd_, 4096) != 0) {
            fail("server listen");
        }
        socklen_t length = sizeof address;
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length);
        port_ = ntohs(address.sin_port);
        epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
        ::pipe2(wake_, O_CLOEXEC | O_NONBLOCK);
        add(listen_fd_);
        add(wake_[0]);
        thread_ = std::thread([this] { run(); });
    }
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;
    ~Server() {
        [[maybe_unused]] auto written = ::write(wake_[1], "x", 1);
        thread_.join();
        for (int fd : open_)
            ::close(fd);
        ::close(listen_fd_);
        ::close(epoll_fd_);
        ::close(wake_[0]);
        ::close(wake_[1]);
    }

    [[nodiscard]] std::uint16_t port() const { return port_; }
    [[nodiscard]] std::size_t accepted() const { return accepted_.load(); }

  private:
    void add(int fd) {
        epoll_event event{};
        event.events = EPOLLIN;
        event.data.fd = fd;
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event);
    }

    void drop(int fd) {
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
        ::close(fd);
        open_.erase(std::remove(open_.begin(), open_.end(), fd), open_.end());
    }

    void run() {
        std::vector<char> buffer(std::size_t{1} << 18);
        epoll_event events[256];
        for (;;) {
            int ready = ::epoll_wait(epoll_fd_, events, 256, -1);
            if (ready < 0 && errno == EINTR) continue;
            for (int i = 0; i < ready; ++i) {
                int fd = events[i].data.fd;
                if (fd == wake_[0]) return;
                if (fd == listen_fd_) {
                    int client;
                    while ((client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC)) >= 0) {
                        int one = 1;
                        (void)::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                        add(client);
                        open_.push_back(client);
                        ++accepted_;
                    }
                    continue;
                }
                ssize_t n = ::recv(fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
                if (n > 0) {
                    if (mode_ == Mode::echo &&
                        !send_all(fd, buffer.data(), static_cast<std::size_t>(n))) {
                        drop(fd);
                    }
                } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                    drop(fd);
                }
            }
        }
    }

    Mode mode_;
    int listen_fd_ = -1;
    int epoll_fd_ = -1;
    int wake_[2] = {-1, -1};
    std::uint16_t port_ = 0;
    std::vector<int> open_;
    std::atomic<std::size_t> accepted_ = 0;
    std::thread thread_;
};

// The faultline under test: `serve` with one proxy in front of each server. Its standard error is
// read by a thread (so it never blocks on a full pipe); the proxies' addresses come from their
// `listening` events.
class Faultline {
  public:
    Faultline(const std::string& binary, std::uint16_t echo_port, std::uint16_t sink_port) {
        config_path_ = "/tmp/faultline-bench-" + std::to_string(::getpid()) + ".toml";
        std::ofstream(config_path_) << "[[proxy]]\nname = \"echo\"\nlisten = \"127.0.0.1:0\"\n"
                                    << "upstream = \"127.0.0.1:" << echo_port << "\"\n\n"
                                    << "[[proxy]]\nname = \"sink\"\nlisten = \"127.0.0.1:0\"\n"
                                    << "upstream = \"127.0.0.1:" << sink_port << "\"\n";
        int err_pipe[2];
        if (::pipe2(err_pipe, O_CLOEXEC) != 0) fail("pipe");
        pid_ = ::fork();
        if (pid_ < 0) fail("fork");
        if (pid_ == 0) {
            ::dup2(err_pipe[1], 2);
            int null = ::open("/dev/null", O_RDWR);
            ::dup2(null, 0);
            ::dup2(null, 1);
            ::execl(binary.c_str(), binary.c_str(), "serve", "--config", config_path_.c_str(),
                    "--api", "127.0.0.1:0", "--log-format", "json", nullptr);
            ::_exit(127);
        }
        ::close(err_pipe[1]);
        err_fd_ = err_pipe[0];
        reader_ = std::thread([this] { read_log(); });
        std::unique_lock lock(mutex_);
        if (!changed_.wait_for(lock, 10s, [this] { return addresses_.size() == 2 || closed_; }) ||
            addresses_.size() != 2) {
            throw std::runtime_error("faultline (" + binary + ") did not start");
        }
    }
    Faultline(const Faultline&) = delete;
    Faultline& operator=(const Faultline&) = delete;
    ~Faultline() {
        ::kill(pid_, SIGTERM);
        int status = 0;
        ::waitpid(pid_, &status, 0);
        reader_.join();
        ::close(err_fd_);
        std::remove(config_path_.c_str());
    }

    [[nodiscard]] std::uint16_t port(const std::string& proxy) {
        std::lock_guard lock(mutex_);
        return port_of(addresses_.at(proxy));
    }
    [[nodiscard]] pid_t pid() const { return pid_; }

    // VmRSS in KiB.
    [[nodiscard]] long rss_kib() const {
        std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
        std::string line;
        while (std::getline(status, line)) {
            if (line.starts_with("VmRSS:")) return std::stol(line.substr(6));
        }
        return -1;
    }

  private:
    void read_log() {
        std::string pending;
        char buffer[65536];
        ssize_t n;
        while ((n = ::read(err_fd_, buffer, sizeof buffer)) > 0 || (n < 0 && errno == EINTR)) {
            if (n < 0) continue;
            pending.append(buffer, static_cast<std::size_t>(n));
            std::size_t newline;
            while ((newline = pending.find('\n')) != std::string::npos) {
                // Only the few `listening` lines are parsed: the teardown records that follow
                // must cost the benchmark's side as little as possible.
                std::string_view line(pending.data(), newline);
                if (line.find("\"listening\"") == std::string_view::npos) {
                    pending.erase(0, newline + 1);
                    continue;
                }
                auto event = nlohmann::json::parse(line, nullptr, false);
                pending.erase(0, newline + 1);
                if (event.is_object() && event.value("event", "") == "listening" &&
                    event.value("kind", "") == "proxy") {
                    std::lock_guard lock(mutex_);
                    addresses_[event["proxy"]] = event["address"];
                    changed_.notify_all();
                }
            }
        }
        std::lock_guard lock(mutex_);
        closed_ = true;
        changed_.notify_all();
    }

    std::string config_path_;
    pid_t pid_ = -1;
    int err_fd_ = -1;
    std::thread reader_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::map<std::string, std::string> addresses_;
    bool closed_ = false;
};

double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    return values[values.size() / 2];
}

double percentile(std::vector<double>& sorted, double p) {
    return sorted[std::min(sorted.size() - 1,
                           static_cast<std::size_t>(p * static_cast<double>(sorted.size())))];
}

// Bytes per second of one stream: send for `seconds`, half-close, and count until the sink has
// taken every byte (it closes at EOF).
double throughput(std::uint16_t port, double seconds) {
    int fd = connect_to(port);
    std::vector<char> chunk(std::size_t{1} << 18, 'x');
    std::uint64_t sent = 0;
    const auto start = Clock::now();
    const auto stop = start + std::chrono::duration<double>(seconds);
    while (Clock::now() < stop) {
        if (!send_all(fd, chunk.data(), chunk.size())) fail("throughput send");
        sent += chunk.size();
    }
    ::shutdown(fd, SHUT_WR);
    char byte;
    (void)::recv(fd, &byte, 1, 0);  // the sink's close
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    ::close(fd);
    return static_cast<double>(sent) / elapsed;
}

// Round-trip times of 64-byte pings on one connection, in microseconds, sorted.
std::vector<double> round_trips(std::uint16_t port, int count) {
    int fd = connect_to(port);
    char ping[64];
    std::memset(ping, 'p', sizeof ping);
    for (int i = 0; i < count / 10; ++i) {  // warm-up
        if (!send_all(fd, ping, sizeof ping) || !recv_exact(fd, ping, sizeof ping)) fail("ping");
    }
    std::vector<double> times;
    times.reserve(static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) {
        const auto start = Clock::now();
        if (!send_all(fd, ping, sizeof ping) || !recv_exact(fd, ping, sizeof ping)) fail("ping");
        times.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    }
    ::close(fd);
    std::sort(times.begin(), times.end());
    return times;
}

// Connections per second: `workers` threads each connect, exchange one byte, close, again.
double connection_rate(std::uint16_t port, int workers, double seconds) {
    std::atomic<std::uint64_t> done = 0;
    std::atomic<bool> failed = false;
    std::atomic<int> failure = 0;  // errno of the first failure
    const char* failed_step = "";
    const auto stop = Clock::now() + std::chrono::duration<double>(seconds);
    const auto start = Clock::now();
    std::vector<std::thread> threads;
    for (int w = 0; w < workers; ++w) {
        threads.emplace_back([&] {
            while (Clock::now() < stop && !failed) {
                int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                sockaddr_in address = loopback(port);
                char byte = 'c';
                const char* step = nullptr;
                if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
                    step = "connect";
                } else if (!send_all(fd, &byte, 1)) {
                    step = "send";
                } else if (!recv_exact(fd, &byte, 1)) {
                    step = "receive";
                }
                if (step != nullptr && !failed.exchange(true)) {
                    failure = errno;
                    failed_step = step;
                }
                ::close(fd);
                ++done;
            }
        });
    }
    for (auto& thread : threads)
        thread.join();
    if (failed) {
        throw std::runtime_error(std::string("connection setup: ") + failed_step + " failed: " +
                                 (failure != 0 ? std::strerror(failure) : "connection closed"));
    }
    return static_cast<double>(done) / std::chrono::duration<double>(Clock::now() - start).count();
}

// RSS added by `count` idle connections through the proxy, per connection, in KiB.
double idle_memory_kib(Faultline& faultline, const Server& server, int count) {
    const std::size_t before_accepted = server.accepted();
    const long before = faultline.rss_kib();
    std::vector<int> clients;
    clients.reserve(static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i)
        clients.push_back(connect_to(faultline.port("echo")));
    const auto deadline = Clock::now() + 30s;
    while (server.accepted() < before_accepted + static_cast<std::size_t>(count)) {
        if (Clock::now() > deadline) {
            throw std::runtime_error("idle connections did not arrive: " +
                                     std::to_string(server.accepted() - before_accepted) + " of " +
                                     std::to_string(count));
        }
        std::this_thread::sleep_for(10ms);
    }
    const long after = faultline.rss_kib();
    for (int fd : clients)
        ::close(fd);
    return static_cast<double>(after - before) / count;
}

void raise_descriptor_limit() {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        (void)::setrlimit(RLIMIT_NOFILE, &limit);
    }
}

std::string format_rate(double bytes_per_second) {
    char text[32];
    std::snprintf(text, sizeof text, "%.2f GB/s", bytes_per_second / 1e9);
    return text;
}

std::string format(const char* pattern, double value) {
    char text[48];
    std::snprintf(text, sizeof text, pattern, value);
    return text;
}

void row(const std::string& metric, const std::string& direct, const std::string& proxied,
         const std::string& comparison, const std::string& target) {
    std::printf("%-34s %14s %14s %14s   %s\n", metric.c_str(), direct.c_str(), proxied.c_str(),
                comparison.c_str(), target.c_str());
}

}  // namespace

int main(int argc, char** argv) {
    ::signal(SIGPIPE, SIG_IGN);
    std::string binary = FAULTLINE_BINARY;
    int rounds = 5;
    double seconds = 1.0;
    int idle = 2000;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::cerr << "faultline_bench: " << arg << " needs a value\n";
                std::exit(2);
            }
            return argv[++i];
        };
        if (arg == "--faultline") {
            binary = value();
        } else if (arg == "--rounds") {
            rounds = std::max(1, std::stoi(value()));
        } else if (arg == "--seconds") {
            seconds = std::stod(value());
        } else if (arg == "--idle") {
            idle = std::stoi(value());
        } else {
            std::cerr << "usage: faultline_bench [--faultline PATH] [--rounds N] [--seconds S] "
                         "[--idle N]\n";
            return arg == "--help" ? 0 : 2;
        }
    }
    raise_descriptor_limit();
    try {
        Server echo(Server::Mode::echo);
        Server sink(Server::Mode::sink);
        Faultline faultline(binary, echo.port(), sink.port());
        std::printf("faultline benchmark: %s, %d rounds of %.1f s, medians; %u cores\n\n",
                    binary.c_str(), rounds, seconds, std::thread::hardware_concurrency());
        row("metric", "direct", "faultline", "comparison", "target");

        std::vector<double> direct_rate, proxied_rate;
        for (int r = 0; r < rounds; ++r) {
            direct_rate.push_back(throughput(sink.port(), seconds));
            proxied_rate.push_back(throughput(faultline.port("sink"), seconds));
        }
        double d = median(direct_rate), p = median(proxied_rate);
        row("throughput, one stream", format_rate(d), format_rate(p),
            format("%.0f%% of direct", 100.0 * p / d), ">= 45% of direct");

        std::vector<double> direct_p50, proxied_p50, direct_p99, proxied_p99;
        const int pings = std::max(1000, static_cast<int>(20000 * seconds));
        for (int r = 0; r < rounds; ++r) {
            auto direct = round_trips(echo.port(), pings);
            auto proxied = round_trips(faultline.port("echo"), pings);
            direct_p50.push_back(percentile(direct, 0.50));
            proxied_p50.push_back(percentile(proxied, 0.50));
            direct_p99.push_back(percentile(direct, 0.99));
            proxied_p99.push_back(percentile(proxied, 0.99));
        }
        d = median(direct_p50);
        p = median(proxied_p50);
        row("round trip, 64 B, p50", format("%.1f us", d), format("%.1f us", p),
            format("+%.1f us", p - d), "<= +25 us");
        d = median(direct_p99);
        p = median(proxied_p99);
        row("round trip, 64 B, p99", format("%.1f us", d), format("%.1f us", p),
            format("+%.1f us", p - d), "-");

        std::vector<double> direct_setup, proxied_setup;
        for (int r = 0; r < rounds; ++r) {
            direct_setup.push_back(connection_rate(echo.port(), 8, seconds / 2));
            proxied_setup.push_back(connection_rate(faultline.port("echo"), 8, seconds / 2));
        }
        d = median(direct_setup);
        p = median(proxied_setup);
        row("connection setup, 8 concurrent", format("%.0f/s", d), format("%.0f/s", p),
            format("%.0f%% of direct", 100.0 * p / d), ">= 50% of direct");

        if (idle > 0) {
            const double kib = idle_memory_kib(faultline, echo, idle);
            row("memory per idle connection", "-", format("%.2f KiB", kib),
                std::to_string(idle) + " connections", "<= 3 KiB");
        }
        std::printf(
            "\nNot measured yet: the latency and bandwidth faults' accuracy, and other proxies in "
            "the same run.\n");
    } catch (const std::exception& e) {
        std::cerr << "faultline_bench: " << e.what() << '\n';
        return 1;
    }
    return 0;
}
