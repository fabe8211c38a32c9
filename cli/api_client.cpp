// Sockets and HTTP/1.1 framing for the API client.
#include "cli/api_client.hpp"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace faultline::cli {
namespace {

// Reads more of the answer into `reply`; false at its end.
bool receive_more(int fd, std::string& reply) {
    char buffer[16384];
    ssize_t n;
    do {
        n = ::recv(fd, buffer, sizeof buffer, 0);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) return false;
    reply.append(buffer, static_cast<std::size_t>(n));
    return true;
}

// Closes a descriptor when it goes out of scope.
class Socket {
  public:
    explicit Socket(int fd) : fd_(fd) {}
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;
    ~Socket() { ::close(fd_); }
    [[nodiscard]] int get() const { return fd_; }

  private:
    int fd_;
};

}  // namespace

ApiClient::ApiClient(std::string url, std::optional<std::string> token)
    : url_(std::move(url)), token_(std::move(token)) {}

int ApiClient::send_request(std::string_view method, const std::string& path,
                            const std::string& body) const {
    std::string rest = url_.starts_with("http://") ? url_.substr(7) : url_;
    if (auto slash = rest.find('/'); slash != std::string::npos) rest.resize(slash);
    auto colon = rest.rfind(':');
    std::string host = colon == std::string::npos ? rest : rest.substr(0, colon);
    std::string port = colon == std::string::npos ? "80" : rest.substr(colon + 1);
    if (host.starts_with('[') && host.ends_with(']')) host = host.substr(1, host.size() - 2);
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0 || !found) {
        throw Failure("cannot resolve " + rest);
    }
    int fd = -1;
    for (addrinfo* ai = found; ai && fd < 0; ai = ai->ai_next) {
        fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
        if (fd >= 0 && ::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            ::close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(found);
    if (fd < 0) throw Failure("cannot connect to " + url_ + ": " + std::strerror(errno));
    std::string raw = std::string(method) + " " + path + " HTTP/1.1\r\nHost: " + rest +
                      "\r\nConnection: close\r\n";
    if (token_) raw += "Authorization: Bearer " + *token_ + "\r\n";
    if (!body.empty()) {
        raw += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
               "\r\n";
    }
    raw += "\r\n" + body;
    for (std::size_t sent = 0; sent < raw.size();) {
        ssize_t n = ::send(fd, raw.data() + sent, raw.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) {
            ::close(fd);
            throw Failure("sending to " + url_ + " failed");
        }
        sent += static_cast<std::size_t>(n);
    }
    return fd;
}

int ApiClient::take_head(std::string& reply) const {
    auto split = reply.find("\r\n\r\n");
    if (!reply.starts_with("HTTP/1.1 ") || split == std::string::npos) {
        throw Failure("no HTTP answer from " + url_);
    }
    int status = std::stoi(reply.substr(9, 3));
    reply.erase(0, split + 4);
    return status;
}

ApiClient::Answer ApiClient::request(std::string_view method, const std::string& path,
                                     const std::string& body) const {
    Socket socket(send_request(method, path, body));
    std::string reply;
    while (receive_more(socket.get(), reply)) {
    }
    int status = take_head(reply);
    return {status, std::move(reply)};
}

nlohmann::json ApiClient::checked(const Answer& answer) {
    auto body =
        answer.body.empty() ? nlohmann::json() : nlohmann::json::parse(answer.body, nullptr, false);
    if (answer.status >= 400) {
        if (body.is_object() && body.contains("error")) {
            throw Failure(body["error"].get<std::string>());
        }
        throw Failure("HTTP " + std::to_string(answer.status));
    }
    return body;
}

nlohmann::json ApiClient::call(std::string_view method, const std::string& path,
                               const std::string& body) const {
    return checked(request(method, path, body));
}

void ApiClient::follow(const std::string& path, const std::function<void()>& on_open,
                       const std::function<void(const std::string&)>& on_line) const {
    Socket socket(send_request("GET", path, {}));
    std::string reply;
    while (reply.find("\r\n\r\n") == std::string::npos) {
        if (!receive_more(socket.get(), reply)) break;
    }
    int status = take_head(reply);
    if (status != 200) {
        while (receive_more(socket.get(), reply)) {
        }
        (void)checked({status, reply});
    }
    on_open();
    for (;;) {
        for (auto newline = reply.find('\n'); newline != std::string::npos;
             newline = reply.find('\n')) {
            std::string line = reply.substr(0, newline);
            reply.erase(0, newline + 1);
            on_line(line);
        }
        if (!receive_more(socket.get(), reply)) return;
    }
}

}  // namespace faultline::cli
