// libuv behind control::ApiSocket.
#include "cli/api_listener.hpp"

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
    [[nodiscard]] uv_stream_t* stream() const { return tcp_.stream(); }
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
    bool is_closed_ = false;
    char read_buffer_[4096];
};

ApiListener::ApiListener(proxy::Runtime& runtime, control::ApiServer& server)
    : runtime_(runtime), server_(server) {}

ApiListener::~ApiListener() {
    stop();
}

int ApiListener::start(const rules::Endpoint& listen) {
    sockaddr_storage address{};
    int err = proxy::to_sockaddr(listen, address);
    if (err != 0) return err;
    listener_ = UvHandle<uv_tcp_t>(this);
    err = uv_tcp_init(runtime_.loop(), listener_.get());
    if (err != 0) return err;
    listener_.mark_initialised();
    err = uv_tcp_bind(listener_.get(), reinterpret_cast<const sockaddr*>(&address), 0);
    if (err == 0) err = uv_listen(listener_.stream(), 128, on_connection);
    if (err != 0) {
        listener_.close();
        return err;
    }
    server_.set_address(proxy::local_address(listener_.get()));
    teardown::log_event(teardown::LogLevel::info,
                        {{"event", "listening"}, {"kind", "api"}, {"address", server_.address()}});
    return 0;
}

void ApiListener::stop() {
    listener_.close();
    std::vector<Socket*> open;
    for (auto& [raw, socket] : sockets_)
        open.push_back(raw);
    for (Socket* socket : open)
        socket->close();
}

void ApiListener::on_connection(uv_stream_t* server, int status) {
    auto* self = static_cast<ApiListener*>(server->data);
    if (!self || status < 0) return;
    auto socket = std::make_unique<Socket>(*self, self->runtime_.loop());
    if (!socket->is_ready() || uv_accept(server, socket->stream()) != 0) return;
    // One of faultline's own upstream connections: a proxy sent to the API would open it to
    // whoever reaches that proxy. Closed at once.
    const auto* tcp = reinterpret_cast<const uv_tcp_t*>(socket->stream());
    if (self->runtime_.is_own_upstream(proxy::peer_address(tcp),
                                       [tcp] { return proxy::local_address(tcp); })) {
        return;
    }
    auto connection = self->server_.open(*socket);
    if (!connection) return;  // full: closed at once
    socket->attach(std::move(connection));
    Socket* raw = socket.get();
    self->sockets_.emplace(raw, std::move(socket));
    (void)raw->start_reading();
}

void ApiListener::retire(Socket& socket) {
    auto it = sockets_.find(&socket);
    if (it == sockets_.end()) return;
    // Not destroyed inside its own callback: freed after this round of callbacks.
    auto owned = std::make_shared<std::unique_ptr<Socket>>(std::move(it->second));
    sockets_.erase(it);
    runtime_.defer([owned] { owned->reset(); });
}

}  // namespace faultline::cli
