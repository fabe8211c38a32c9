// The control API's connection handling.
#include "cli/api_server.hpp"

#include <algorithm>

#include "proxy/address.hpp"
#include "teardown/log.hpp"
#include "proxy/runtime.hpp"

namespace faultline::cli {

struct ApiServer::Connection {
    ApiServer* server = nullptr;
    UvHandle<uv_tcp_t> tcp;
    UvHandle<uv_timer_t> timer;
    HttpParser parser;
    std::size_t pending_writes = 0;
    bool close_after_writes = false;
    bool has_eof = false;
    bool is_follower = false;  // receives broadcast lines until it closes
    char read_buffer[4096];
};

namespace {

struct ResponseWrite {
    uv_write_t req{};
    std::string bytes;
};

}  // namespace

ApiServer::ApiServer(Runtime& runtime, Handler handler, std::optional<std::string> token)
    : runtime_(runtime), handler_(std::move(handler)), token_(std::move(token)) {}

ApiServer::~ApiServer() {
    stop();
}

int ApiServer::start(const rules::Endpoint& listen) {
    sockaddr_storage address{};
    int err = to_sockaddr(listen, address);
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
    bound_address_ = local_address(listener_.get());
    teardown::log_event(teardown::LogLevel::info,
              {{"event", "listening"}, {"kind", "api"}, {"address", bound_address_}});
    return 0;
}

void ApiServer::stop() {
    listener_.close();
    for (auto& [raw, connection] : connections_) {
        connection->tcp.close();
        connection->timer.close();
    }
    connections_.clear();
}

void ApiServer::on_connection(uv_stream_t* server, int status) {
    auto* self = static_cast<ApiServer*>(server->data);
    if (!self || status < 0) return;
    auto connection = std::make_unique<Connection>();
    bool is_full = self->connections_.size() >= max_connections;
    connection->server = self;
    connection->tcp = UvHandle<uv_tcp_t>(connection.get());
    connection->timer = UvHandle<uv_timer_t>(connection.get());
    if (uv_tcp_init(self->runtime_.loop(), connection->tcp.get()) != 0) return;
    connection->tcp.mark_initialised();
    if (uv_accept(server, connection->tcp.stream()) != 0 || is_full) return;
    if (uv_timer_init(self->runtime_.loop(), connection->timer.get()) != 0) return;
    connection->timer.mark_initialised();
    if (uv_read_start(connection->tcp.stream(), on_alloc, on_read) != 0) return;
    (void)uv_timer_start(connection->timer.get(), on_timeout,
                         static_cast<std::uint64_t>(request_timeout.count()), 0);
    Connection* raw = connection.get();
    self->connections_.emplace(raw, std::move(connection));
}

void ApiServer::on_alloc(uv_handle_t* handle, std::size_t, uv_buf_t* buf) {
    auto* connection = static_cast<Connection*>(handle->data);
    if (!connection) {
        *buf = uv_buf_init(nullptr, 0);
        return;
    }
    *buf = uv_buf_init(connection->read_buffer, sizeof connection->read_buffer);
}

void ApiServer::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    auto* connection = static_cast<Connection*>(stream->data);
    if (!connection || nread == 0) return;
    if (nread < 0) {
        if (nread == UV_EOF && connection->pending_writes > 0 && !connection->is_follower) {
            connection->has_eof = true;  // a half-close after the request: answer, then close
            connection->close_after_writes = true;
        } else {
            connection->server->close(*connection);
        }
        return;
    }
    connection->server->on_data(*connection,
                                std::string_view(buf->base, static_cast<std::size_t>(nread)));
}

void ApiServer::on_data(Connection& connection, std::string_view data) {
    // Input after the last answer, or from a follower of a stream, is discarded.
    if (connection.close_after_writes || connection.is_follower) return;
    auto state = connection.parser.feed(data);
    while (state == HttpParser::State::complete && !connection.close_after_writes) {
        HttpRequest request = connection.parser.take();
        respond(connection, dispatch(request), request.keep_alive);
        state = connection.parser.feed({});
    }
    if (state == HttpParser::State::failed && !connection.close_after_writes) {
        respond(connection,
                error_response(connection.parser.error_status(), connection.parser.error_message()),
                false);
    }
}

// Browsers are the clients a hostile page can steer at the API, and they name what they came
// for: Origin on every request but a same-origin GET, and always the Host they think they talk
// to.
// - Without a token the API is on loopback. A page from another site names its own Origin; a
//   page that reached the API through a rebinding DNS name names that name in Host, on the GETs
//   without Origin too. So Host must be the API's own address (or absent, as HTTP/1.0 allows),
//   and an Origin must be that address.
// - With a token, a browser never adds the bearer header by itself, so neither a foreign site nor
//   a rebound name gets past the token; the page may then be reached under any name (a LAN
//   address, a reverse proxy), and an Origin must only match the Host it was sent to.
// Clients that send no Origin and their own Host (every Toxiproxy client, ctl) are not affected.
bool ApiServer::is_own_origin(const HttpRequest& request) const {
    std::string_view origin = request.header("origin");
    std::string_view host = request.header("host");
    if (!token_) {
        auto colon = bound_address_.rfind(':');
        std::string port = colon == std::string::npos ? "" : bound_address_.substr(colon);
        bool is_own_host = host.empty() || host == bound_address_ || host == "localhost" + port ||
                           host == "127.0.0.1" + port || host == "[::1]" + port;
        if (!is_own_host) return false;
    }
    if (origin.empty()) return true;
    return !host.empty() && (origin == "http://" + std::string(host) ||
                             (token_ && origin == "https://" + std::string(host)));
}

namespace {

// Compares in time that depends on the lengths only, so that the answer's timing does not tell
// how much of a guessed token was right.
bool equal_in_constant_time(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    unsigned char difference = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        difference |= static_cast<unsigned char>(a[i] ^ b[i]);
    return difference == 0;
}

}  // namespace

HttpResponse ApiServer::dispatch(const HttpRequest& request) {
    if (!is_own_origin(request)) {
        return error_response(403,
                              "origin not allowed: browser requests must come from the API's "
                              "own page, at the API's own address");
    }
    // The dashboard page holds no data (it asks for the token and sends it with each request),
    // and a browser cannot add a header when it opens a page.
    bool is_page = request.path == "/" && request.method == "GET";
    if (token_ && !is_page &&
        !equal_in_constant_time(request.header("authorization"), "Bearer " + *token_)) {
        HttpResponse response = error_response(401, "missing or wrong bearer token");
        response.headers.emplace_back("WWW-Authenticate", "Bearer");
        return response;
    }
    try {
        return handler_(request);
    } catch (const std::exception& e) {
        teardown::log_message(teardown::LogLevel::error, std::string("api: ") + request.method + " " + request.path +
                                            " failed: " + e.what());
        return error_response(500, e.what());
    }
}

void ApiServer::respond(Connection& connection, const HttpResponse& response, bool keep_alive) {
    if (response.is_stream) {
        // The head now, lines later; the connection ends when the client closes it.
        if (!write_bytes(connection, serialize(response, false))) return;
        connection.is_follower = true;
        (void)uv_timer_stop(connection.timer.get());
        auto followers = std::count_if(connections_.begin(), connections_.end(),
                                       [](const auto& entry) { return entry.second->is_follower; });
        teardown::log_event(teardown::LogLevel::debug, {{"event", "api_follower"}, {"followers", followers}});
        return;
    }
    if (!write_bytes(connection, serialize(response, keep_alive))) return;
    if (!keep_alive) connection.close_after_writes = true;
    // A client that sends requests without reading the answers must not make answers pile up:
    // read nothing more until they are written. The request timer keeps running meanwhile.
    (void)uv_read_stop(connection.tcp.stream());
}

bool ApiServer::write_bytes(Connection& connection, std::string bytes) {
    auto* write = new ResponseWrite{};
    write->bytes = std::move(bytes);
    write->req.data = write;
    uv_buf_t buf = uv_buf_init(write->bytes.data(), static_cast<unsigned>(write->bytes.size()));
    if (uv_write(&write->req, connection.tcp.stream(), &buf, 1, on_write) != 0) {
        delete write;
        close(connection);
        return false;
    }
    ++connection.pending_writes;
    return true;
}

void ApiServer::broadcast(const std::string& line) {
    std::vector<Connection*> followers;
    for (auto& [raw, connection] : connections_) {
        if (connection->is_follower) followers.push_back(raw);
    }
    for (Connection* connection : followers) {
        if (uv_stream_get_write_queue_size(connection->tcp.stream()) > follower_backlog) {
            close(*connection);
            continue;
        }
        (void)write_bytes(*connection, line);
    }
}

void ApiServer::on_write(uv_write_t* req, int status) {
    std::unique_ptr<ResponseWrite> write(static_cast<ResponseWrite*>(req->data));
    auto* connection = static_cast<Connection*>(req->handle->data);
    if (!connection || status == UV_ECANCELED) return;
    if (--connection->pending_writes > 0) return;
    if (connection->is_follower) {
        if (status < 0) connection->server->close(*connection);
        return;
    }
    if (status < 0 || connection->has_eof) {
        connection->server->close(*connection);
    } else if (connection->close_after_writes) {
        connection->server->linger(*connection);
    } else if (uv_read_start(connection->tcp.stream(), on_alloc, on_read) == 0) {
        (void)uv_timer_start(connection->timer.get(), on_timeout,
                             static_cast<std::uint64_t>(request_timeout.count()), 0);
    } else {
        connection->server->close(*connection);
    }
}

// Closing a socket with unread input makes the kernel send RST, which can overtake the answer
// (a client still sending an oversized request would see ECONNRESET instead of the 413). So:
// FIN after the answer, then read and discard until the client closes, for a bounded time.
void ApiServer::linger(Connection& connection) {
    auto* req = new uv_shutdown_t{};
    if (uv_shutdown(req, connection.tcp.stream(), [](uv_shutdown_t* r, int) { delete r; }) != 0) {
        delete req;
        close(connection);
        return;
    }
    if (uv_read_start(connection.tcp.stream(), on_alloc, on_read) != 0) {
        close(connection);
        return;
    }
    (void)uv_timer_start(connection.timer.get(), on_timeout,
                         static_cast<std::uint64_t>(linger_timeout.count()), 0);
}

// An idle keep-alive connection is closed quietly; one that stalls halfway through a request
// is told why first.
void ApiServer::on_timeout(uv_timer_t* handle) {
    auto* connection = static_cast<Connection*>(handle->data);
    if (!connection) return;
    if (!connection->close_after_writes && !connection->is_follower &&
        connection->pending_writes == 0 && connection->parser.is_mid_request()) {
        connection->server->respond(
            *connection, error_response(408, "the request did not arrive in time"), false);
        return;
    }
    connection->server->close(*connection);
}

void ApiServer::close(Connection& connection) {
    auto it = connections_.find(&connection);
    if (it == connections_.end()) return;
    connection.tcp.close();
    connection.timer.close();
    // Not destroyed inside its own callback: freed after this round of callbacks.
    auto owned = std::make_shared<std::unique_ptr<Connection>>(std::move(it->second));
    connections_.erase(it);
    runtime_.defer([owned] { owned->reset(); });
}

}  // namespace faultline::cli
