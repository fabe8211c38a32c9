// The control API's request handling per connection, and the checks every request passes.
#include "control/api_server.hpp"

#include <algorithm>

#include "teardown/log.hpp"

namespace faultline::control {

// ---------------------------------------------------------------------------------------------
// One connection.

ApiConnection::ApiConnection(ApiServer& server, ApiSocket& socket)
    : server_(server), socket_(socket) {
    server_.connections_.insert(this);
    socket_.start_timer(ApiServer::request_timeout);
}

ApiConnection::~ApiConnection() {
    server_.connections_.erase(this);
}

void ApiConnection::on_data(std::string_view bytes) {
    // Input after the last answer, or from a follower of the stream, is discarded.
    if (is_closed_ || is_closing_after_writes_ || is_follower_) return;
    auto state = parser_.feed(bytes);
    while (state == HttpParser::State::complete && !is_closing_after_writes_ && !is_closed_) {
        HttpRequest request = parser_.take();
        respond(server_.dispatch(request), request.keep_alive);
        state = parser_.feed({});
    }
    if (state == HttpParser::State::failed && !is_closing_after_writes_ && !is_closed_) {
        respond(error_response(parser_.error_status(), parser_.error_message()), false);
    }
}

void ApiConnection::on_eof() {
    if (pending_writes_ > 0 && !is_follower_) {
        has_eof_ = true;  // a half-close after the request: answer, then close
        is_closing_after_writes_ = true;
    } else {
        close();
    }
}

void ApiConnection::on_error() {
    close();
}

void ApiConnection::respond(const HttpResponse& response, bool keep_alive) {
    if (response.is_stream) {
        // The head now, lines later; the connection ends when the client closes it.
        if (!write(serialize(response, false))) return;
        is_follower_ = true;
        socket_.stop_timer();
        teardown::log_event(teardown::LogLevel::debug,
                            {{"event", "api_follower"}, {"followers", server_.follower_count()}});
        return;
    }
    if (!write(serialize(response, keep_alive))) return;
    if (!keep_alive) is_closing_after_writes_ = true;
    // A client that sends requests without reading the answers must not make answers pile up:
    // read nothing more until they are written. The request timer keeps running meanwhile.
    socket_.stop_reading();
}

bool ApiConnection::write(std::string bytes) {
    if (is_closed_) return false;
    if (!socket_.write(std::move(bytes))) {
        close();
        return false;
    }
    ++pending_writes_;
    return true;
}

void ApiConnection::on_written(bool is_ok) {
    if (is_closed_ || --pending_writes_ > 0) return;
    if (is_follower_) {
        if (!is_ok) close();
        return;
    }
    if (is_ok && !has_eof_ && is_closing_after_writes_) {
        linger();
    } else if (is_ok && !has_eof_ && socket_.start_reading()) {
        socket_.start_timer(ApiServer::request_timeout);
    } else {
        close();
    }
}

// Closing a socket with unread input makes the kernel send RST, which can overtake the answer
// (a client still sending an oversized request would see ECONNRESET instead of the 413). So:
// FIN after the answer, then read and discard until the client closes, for a bounded time.
void ApiConnection::linger() {
    if (!socket_.shutdown() || !socket_.start_reading()) {
        close();
        return;
    }
    socket_.start_timer(ApiServer::linger_timeout);
}

// An idle keep-alive connection is closed quietly; one that stalls halfway through a request is
// told why first.
void ApiConnection::on_timer() {
    if (is_closed_) return;
    if (!is_closing_after_writes_ && !is_follower_ && pending_writes_ == 0 &&
        parser_.is_mid_request()) {
        respond(error_response(408, "the request did not arrive in time"), false);
        return;
    }
    close();
}

void ApiConnection::close() {
    if (is_closed_) return;
    on_closed();
    socket_.close();
}

void ApiConnection::on_closed() {
    is_closed_ = true;
    server_.connections_.erase(this);
}

// ---------------------------------------------------------------------------------------------
// The server.

ApiServer::ApiServer(Handler handler, std::optional<std::string> token)
    : handler_(std::move(handler)), token_(std::move(token)) {}

std::unique_ptr<ApiConnection> ApiServer::open(ApiSocket& socket) {
    if (connections_.size() >= max_connections) return nullptr;
    return std::make_unique<ApiConnection>(*this, socket);
}

std::size_t ApiServer::follower_count() const {
    return static_cast<std::size_t>(
        std::count_if(connections_.begin(), connections_.end(),
                      [](const ApiConnection* connection) { return connection->is_follower(); }));
}

bool ApiServer::has_followers() const {
    return std::any_of(connections_.begin(), connections_.end(),
                       [](const ApiConnection* connection) { return connection->is_follower(); });
}

void ApiServer::broadcast(const std::string& line) {
    std::vector<ApiConnection*> followers;
    for (ApiConnection* connection : connections_) {
        if (connection->is_follower()) followers.push_back(connection);
    }
    for (ApiConnection* connection : followers) {
        if (connection->socket().unsent_bytes() > follower_backlog) {
            connection->close();
            continue;
        }
        (void)connection->write(line);
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
        auto colon = address_.rfind(':');
        std::string port = colon == std::string::npos ? "" : address_.substr(colon);
        bool is_own_host = host.empty() || host == address_ || host == "localhost" + port ||
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
        teardown::log_message(
            teardown::LogLevel::error,
            std::string("api: ") + request.method + " " + request.path + " failed: " + e.what());
        return error_response(500, e.what());
    }
}

}  // namespace faultline::control
