// The control API's request handling per connection, and the checks every request passes.
#include "control/api_server.hpp"

#include <algorithm>
#include <cctype>

#include "teardown/log.hpp"

namespace faultline::control {

// ---------------------------------------------------------------------------------------------
// One connection.

ApiConnection::ApiConnection(ApiServer& server, ApiSocket& socket)
    : server_(server), socket_(socket), idle_since_(server.turn_) {
    server_.connections_.insert(this);
    socket_.start_timer(ApiServer::request_timeout);
}

ApiConnection::~ApiConnection() {
    on_closed();
}

// Requests are answered one at a time: the next waits until the answer before it is written. A
// client that pipelines requests and does not read the answers then holds one answer, and costs
// one answer's work per turn of the loop, however many requests it sent.
void ApiConnection::on_data(std::string_view bytes) {
    // Input after the last answer, or from a follower of the stream, is discarded.
    if (is_closed_ || is_closing_after_writes_ || is_follower_) return;
    answer(parser_.feed(bytes));
}

void ApiConnection::answer(HttpParser::State state) {
    if (state == HttpParser::State::complete) {
        HttpRequest request = parser_.take();
        if (server_.is_budget_spent()) {
            kept_ = std::move(request);
            socket_.stop_reading();
            server_.wait(*this);
            return;
        }
        handle(request);
    } else if (state == HttpParser::State::failed) {
        respond(error_response(parser_.error_status(), parser_.error_message()), false);
    }
}

void ApiConnection::answer_kept() {
    if (!kept_ || is_closed_) return;
    HttpRequest request = std::move(*kept_);
    kept_.reset();
    handle(request);
}

void ApiConnection::handle(const HttpRequest& request) {
    auto start = std::chrono::steady_clock::now();
    respond(server_.dispatch(request), request.keep_alive);
    server_.spent_time_ += std::chrono::steady_clock::now() - start;
}

void ApiConnection::on_eof() {
    if (pending_writes_ > 0 && !is_follower_ && !is_closing_after_writes_) {
        has_eof_ = true;  // a half-close after the requests: answer them, then close
    } else {
        close();
    }
}

void ApiConnection::on_error() {
    close();
}

void ApiConnection::respond(const HttpResponse& response, bool keep_alive) {
    if (response.is_stream) {
        if (server_.followers_ >= ApiServer::max_followers) {
            respond(error_response(503, "too many clients follow the event stream (at most " +
                                            std::to_string(ApiServer::max_followers) + ")"),
                    false);
            return;
        }
        // The head now, lines later; the connection ends when the client closes it.
        if (!write(serialize(response, false))) return;
        is_follower_ = true;
        ++server_.followers_;
        socket_.stop_timer();
        teardown::log_event(teardown::LogLevel::debug,
                            {{"event", "api_follower"}, {"followers", server_.followers_}});
        return;
    }
    std::string bytes = serialize(response, keep_alive);
    server_.spent_ += std::max(bytes.size(), ApiServer::answer_cost);
    if (!write(std::move(bytes))) return;
    if (!keep_alive) is_closing_after_writes_ = true;
    // Nothing more is read, nor answered, until this answer is written. The request timer keeps
    // running meanwhile: a client that reads no answer is closed when it fires.
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
    idle_since_ = ++server_.turn_;
    if (!is_ok || (is_closing_after_writes_ && has_eof_)) return close();
    if (is_closing_after_writes_) return linger();
    // The next request may have arrived with this one.
    if (parser_.has_buffered_input()) {
        auto state = parser_.feed({});
        if (state != HttpParser::State::incomplete) return answer(state);
    }
    if (has_eof_) return close();
    if (socket_.start_reading()) socket_.start_timer(ApiServer::request_timeout);
}

bool ApiConnection::is_idle() const {
    return !is_closed_ && !is_follower_ && !is_refused_ && !is_closing_after_writes_ && !kept_ &&
           pending_writes_ == 0 && !parser_.has_buffered_input() && !parser_.is_mid_request();
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
    if (is_closed_) return;
    is_closed_ = true;
    server_.connections_.erase(this);
    if (kept_) std::erase(server_.waiting_, this);
    if (is_follower_) --server_.followers_;
    if (is_refused_) --server_.refused_;
}

// ---------------------------------------------------------------------------------------------
// The server.

ApiServer::ApiServer(Handler handler, std::optional<std::string> token)
    : handler_(std::move(handler)), token_(std::move(token)) {}

std::unique_ptr<ApiConnection> ApiServer::open(ApiSocket& socket) {
    bool is_full = client_count() >= max_clients && !close_longest_idle();
    if (is_full && refused_ >= max_refused) return nullptr;
    auto connection = std::make_unique<ApiConnection>(*this, socket);
    if (is_full) {
        // Told why rather than closed unanswered; its request is read and discarded meanwhile.
        connection->is_refused_ = true;
        ++refused_;
        teardown::log_event(teardown::LogLevel::warn,
                            {{"event", "api_full"}, {"clients", client_count()}});
        connection->respond(error_response(503, "too many API connections (at most " +
                                                    std::to_string(max_clients) + ")"),
                            false);
    }
    return connection;
}

bool ApiServer::close_longest_idle() {
    ApiConnection* longest = nullptr;
    for (ApiConnection* connection : connections_) {
        if (connection->is_idle() && (!longest || connection->idle_since_ < longest->idle_since_))
            longest = connection;
    }
    if (!longest) return false;
    longest->close();
    return true;
}

void ApiServer::wait(ApiConnection& connection) {
    waiting_.push_back(&connection);
    if (waiting_.size() == 1 && on_waiting) on_waiting();
}

void ApiServer::next_turn() {
    end_turn();
    while (!waiting_.empty() && !is_budget_spent()) {
        ApiConnection* connection = waiting_.front();
        waiting_.pop_front();
        connection->answer_kept();
    }
}

bool ApiServer::has_followers() const {
    return followers_ > 0;
}

void ApiServer::broadcast(const std::string& line) {
    std::vector<ApiConnection*> followers;
    for (ApiConnection* connection : connections_) {
        if (connection->is_follower()) followers.push_back(connection);
    }
    for (ApiConnection* connection : followers) {
        if (connection->socket().unsent_bytes() > follower_backlog) {
            teardown::log_event(
                teardown::LogLevel::warn,
                {{"event", "api_follower_dropped"}, {"reason", "it does not read the stream"}});
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

// `Authorization: Bearer <token>`; the scheme's name is case-insensitive (RFC 7235).
bool ApiServer::is_authorised(const HttpRequest& request) const {
    std::string_view value = request.header("authorization");
    constexpr std::string_view scheme = "bearer";
    if (value.size() <= scheme.size() || value[scheme.size()] != ' ') return false;
    for (std::size_t i = 0; i < scheme.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(value[i])) != scheme[i]) return false;
    }
    std::string_view credentials = value.substr(scheme.size());
    credentials.remove_prefix(std::min(credentials.find_first_not_of(' '), credentials.size()));
    return equal_in_constant_time(credentials, *token_);
}

HttpResponse ApiServer::dispatch(const HttpRequest& request) {
    if (!is_own_origin(request)) {
        return error_response(403,
                              "origin not allowed: browser requests must come from the API's "
                              "own page, at the API's own address");
    }
    // The dashboard page holds no data (it asks for the token and sends it with each request),
    // and a browser cannot add a header when it opens a page.
    bool is_page = request.path == "/" && request.method == "GET";
    if (token_ && !is_page && !is_authorised(request)) {
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
