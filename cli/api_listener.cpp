// libuv behind control::ApiSocket.
#include "cli/api_listener.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <utility>
#include <vector>

#include "proxy/address.hpp"
#include "proxy/uv_request.hpp"
#include "teardown/log.hpp"

namespace faultline::cli {

using proxy::UvHandle;
using proxy::UvRequest;

class ApiListener::Socket final : public control::ApiSocket {
  public:
    Socket(ApiListener& listener, uv_loop_t* loop) : listener_(listener), tcp_(this), timer_(this) {
        bool has_tcp = uv_tcp_init(loop, tcp_.get()) == 0;
        if (has_tcp) tcp_.mark_initialised();
        bool has_timer = uv_timer_init(loop, timer_.get()) == 0;
        if (has_timer) timer_.mark_initialised();
        is_ready_ = has_tcp && has_timer;
    }

    [[nodiscard]] bool is_ready() const { return is_ready_; }
    [[nodiscard]] uv_tcp_t* tcp() const { return tcp_.get(); }
    [[nodiscard]] bool is_on_reserve() const { return is_on_reserve_; }
    void set_on_reserve(bool is_on_reserve) { is_on_reserve_ = is_on_reserve; }
    void attach(std::unique_ptr<control::ApiConnection> connection) {
        connection_ = std::move(connection);
    }

    bool write(std::string bytes) override {
        using Write = UvRequest<uv_write_t, std::string>;
        auto request = std::make_unique<Write>(std::move(bytes));
        std::string& payload = request->payload();
        uv_buf_t buf = uv_buf_init(payload.data(), static_cast<unsigned>(payload.size()));
        int err = Write::submit(std::move(request), [&](uv_write_t* req) {
            return uv_write(req, tcp_.stream(), &buf, 1, on_write);
        });
        if (err != 0) {
            close();
            return false;
        }
        return true;
    }
    [[nodiscard]] std::size_t unsent_bytes() const override {
        return uv_stream_get_write_queue_size(tcp_.stream());
    }
    void stop_reading() override { (void)uv_read_stop(tcp_.stream()); }
    bool start_reading() override {
        if (uv_read_start(tcp_.stream(), on_alloc, on_read) == 0) return true;
        close();
        return false;
    }
    bool shutdown() override {
        using Shutdown = UvRequest<uv_shutdown_t>;
        int err = Shutdown::submit(std::make_unique<Shutdown>(), [&](uv_shutdown_t* req) {
            return uv_shutdown(req, tcp_.stream(),
                               [](uv_shutdown_t* done, int) { (void)Shutdown::adopt(done); });
        });
        if (err == 0) return true;
        close();
        return false;
    }
    void start_timer(std::chrono::milliseconds delay) override {
        (void)uv_timer_start(timer_.get(), on_timer, static_cast<std::uint64_t>(delay.count()), 0);
    }
    void stop_timer() override { (void)uv_timer_stop(timer_.get()); }
    void close() override {
        if (is_closed_) return;
        is_closed_ = true;
        tcp_.close();
        timer_.close();
        // Closed from here (the listener stops): the connection must know, or a broadcast
        // would still write to it.
        if (connection_) connection_->on_closed();
        listener_.retire(*this);
    }

  private:
    static void on_alloc(uv_handle_t* handle, std::size_t, uv_buf_t* buf) {
        auto* self = static_cast<Socket*>(handle->data);
        *buf = self ? uv_buf_init(self->read_buffer_, sizeof self->read_buffer_)
                    : uv_buf_init(nullptr, 0);
    }
    static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
        auto* self = static_cast<Socket*>(stream->data);
        if (!self || nread == 0) return;
        if (nread == UV_EOF) {
            self->connection_->on_eof();
        } else if (nread < 0) {
            self->connection_->on_error();
        } else {
            self->connection_->on_data({buf->base, static_cast<std::size_t>(nread)});
        }
    }
    static void on_write(uv_write_t* req, int status) {
        auto request = UvRequest<uv_write_t, std::string>::adopt(req);
        auto* self = static_cast<Socket*>(req->handle->data);
        if (!self || status == UV_ECANCELED) return;
        self->connection_->on_written(status >= 0);
    }
    static void on_timer(uv_timer_t* handle) {
        auto* self = static_cast<Socket*>(handle->data);
        if (self) self->connection_->on_timer();
    }

    ApiListener& listener_;
    UvHandle<uv_tcp_t> tcp_;
    UvHandle<uv_timer_t> timer_;
    std::unique_ptr<control::ApiConnection> connection_;
    bool is_ready_ = false;
    bool is_on_reserve_ = false;
    bool is_closed_ = false;
    char read_buffer_[4096];
};

ApiListener::ApiListener(proxy::Runtime& runtime, control::ApiServer& server)
    : runtime_(runtime), server_(server) {}

ApiListener::~ApiListener() {
    stop();
}

namespace {

// A listening socket on `address`, or -errno.
int listening_socket(const sockaddr_storage& address) {
    int fd = ::socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int one = 1;
    socklen_t length = address.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, reinterpret_cast<const sockaddr*>(&address), length) != 0 ||
        listen(fd, SOMAXCONN) != 0) {
        int err = -errno;
        ::close(fd);
        return err;
    }
    return fd;
}

int open_reserve() {
    return ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

}  // namespace

int ApiListener::start(const rules::Endpoint& listen) {
    sockaddr_storage address{};
    int err = proxy::to_sockaddr(listen, address);
    if (err != 0) return err;
    int fd = listening_socket(address);
    if (fd < 0) return fd;
    listen_fd_ = fd;
    acceptor_ = UvHandle<uv_poll_t>(this);
    resume_timer_ = UvHandle<uv_timer_t>(this);
    err = uv_poll_init_socket(runtime_.loop(), acceptor_.get(), fd);
    if (err == 0) {
        acceptor_.mark_initialised();
        err = uv_timer_init(runtime_.loop(), resume_timer_.get());
    }
    if (err == 0) {
        resume_timer_.mark_initialised();
        err = uv_poll_start(acceptor_.get(), UV_READABLE, on_acceptable);
    }
    turn_ = UvHandle<uv_idle_t>(this);
    if (err == 0 && (err = uv_idle_init(runtime_.loop(), turn_.get())) == 0) {
        turn_.mark_initialised();
        server_.on_waiting = [this] { (void)uv_idle_start(turn_.get(), on_turn); };
    }
    // The budget is per turn of the loop: spent by the I/O callbacks, whole again after them.
    turn_end_ = UvHandle<uv_check_t>(this);
    if (err == 0 && (err = uv_check_init(runtime_.loop(), turn_end_.get())) == 0) {
        turn_end_.mark_initialised();
        uv_unref(reinterpret_cast<uv_handle_t*>(turn_end_.get()));
        err = uv_check_start(turn_end_.get(), on_turn_end);
    }
    if (err != 0) {
        stop();
        return err;
    }
    reserve_fd_ = open_reserve();
    sockaddr_storage bound{};
    socklen_t length = sizeof bound;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length) == 0) {
        server_.set_address(proxy::address_text(reinterpret_cast<const sockaddr&>(bound)));
    }
    teardown::log_event(teardown::LogLevel::info,
                        {{"event", "listening"}, {"kind", "api"}, {"address", server_.address()}});
    return 0;
}

void ApiListener::stop() {
    server_.on_waiting = nullptr;
    // The poll handle lets go of the descriptor synchronously; then it can be closed.
    acceptor_.close();
    resume_timer_.close();
    turn_.close();
    turn_end_.close();
    if (listen_fd_ >= 0) ::close(std::exchange(listen_fd_, -1));
    if (reserve_fd_ >= 0) ::close(std::exchange(reserve_fd_, -1));
    std::vector<Socket*> open;
    for (auto& [raw, socket] : sockets_)
        open.push_back(raw);
    for (Socket* socket : open)
        socket->close();
}

void ApiListener::on_acceptable(uv_poll_t* handle, int status, int) {
    auto* self = static_cast<ApiListener*>(handle->data);
    if (!self) return;
    if (status < 0) return self->pause_accepting();  // libuv has stopped the poll
    self->accept_pending();
}

void ApiListener::accept_pending() {
    // Bounded, so that a flood of connects cannot starve the proxied connections.
    for (int i = 0; i < 16 && listen_fd_ >= 0; ++i) {
        int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            open_connection(fd, false);
            continue;
        }
        int error = errno;
        if (error == EINTR || error == ECONNABORTED) continue;
        if (error == EAGAIN || error == EWOULDBLOCK) return;
        if ((error == EMFILE || error == ENFILE) && (fd = accept_with_reserve()) >= 0) {
            open_connection(fd, true);
            continue;
        }
        // No descriptor at all, or ENOBUFS and the like: the poll would report the listener at
        // once again.
        teardown::log_event(teardown::LogLevel::warn, {{"event", "accept_paused"},
                                                       {"kind", "api"},
                                                       {"error", uv_err_name(-error)},
                                                       {"message", uv_strerror(-error)}});
        return pause_accepting();
    }
}

int ApiListener::accept_with_reserve() {
    if (reserve_fd_ < 0) return -EMFILE;
    ::close(std::exchange(reserve_fd_, -1));
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
        int error = errno;
        reserve_fd_ = open_reserve();
        return -error;
    }
    teardown::log_event(teardown::LogLevel::warn,
                        {{"event", "api_on_reserve_descriptor"},
                         {"message",
                          "the process has no descriptor left; an API connection "
                          "takes the reserved one"}});
    return fd;
}

void ApiListener::open_connection(int fd, bool is_on_reserve) {
    auto socket = std::make_unique<Socket>(*this, runtime_.loop());
    socket->set_on_reserve(is_on_reserve);
    if (!socket->is_ready() || uv_tcp_open(socket->tcp(), fd) != 0) {
        ::close(fd);
        socket->close();
        return;
    }
    // One of faultline's own upstream connections: a proxy sent to the API would open it to
    // whoever reaches that proxy. Closed at once.
    const uv_tcp_t* tcp = socket->tcp();
    if (runtime_.is_own_upstream(proxy::peer_address(tcp),
                                 [tcp] { return proxy::local_address(tcp); })) {
        socket->close();
        return;
    }
    auto connection = server_.open(*socket);
    if (!connection) {
        socket->close();  // full, even for being told so
        return;
    }
    socket->attach(std::move(connection));
    Socket* raw = socket.get();
    sockets_.emplace(raw, std::move(socket));
    (void)raw->start_reading();
}

void ApiListener::pause_accepting() {
    if (!acceptor_ || !resume_timer_) return;
    (void)uv_poll_stop(acceptor_.get());
    (void)uv_timer_start(resume_timer_.get(), on_resume, accept_pause_ms, 0);
}

void ApiListener::on_turn(uv_idle_t* handle) {
    auto* self = static_cast<ApiListener*>(handle->data);
    if (!self) return;
    self->server_.next_turn();
    if (!self->server_.has_waiting()) (void)uv_idle_stop(handle);
}

void ApiListener::on_turn_end(uv_check_t* handle) {
    auto* self = static_cast<ApiListener*>(handle->data);
    if (self) self->server_.end_turn();
}

void ApiListener::on_resume(uv_timer_t* handle) {
    auto* self = static_cast<ApiListener*>(handle->data);
    if (!self || !self->acceptor_) return;
    if (self->reserve_fd_ < 0) self->reserve_fd_ = open_reserve();
    (void)uv_poll_start(self->acceptor_.get(), UV_READABLE, on_acceptable);
}

void ApiListener::retire(Socket& socket) {
    // The descriptor it had is free again: the reserve can be taken back.
    if (socket.is_on_reserve() && reserve_fd_ < 0) reserve_fd_ = open_reserve();
    auto it = sockets_.find(&socket);
    if (it == sockets_.end()) return;
    // Not destroyed inside its own callback: freed after this round of callbacks.
    auto owned = std::make_shared<std::unique_ptr<Socket>>(std::move(it->second));
    sockets_.erase(it);
    runtime_.defer([owned] { owned->reset(); });
}

}  // namespace faultline::cli
