// Listening and accepting for one proxy.
#include "proxy/proxy.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "proxy/address.hpp"
#include "proxy/runtime.hpp"
#include "proxy/session.hpp"
#include "teardown/log.hpp"

namespace faultline::proxy {

using teardown::Cause;
using teardown::EndpointState;
using teardown::Initiator;
using teardown::Reason;
using teardown::TeardownRecord;

Proxy::Proxy(Runtime& runtime, rules::ProxyConfig config)
    : runtime_(runtime), config_(std::move(config)) {}

Proxy::~Proxy() {
    stop_listening();
}

namespace {

// A bound socket with SO_REUSEADDR, or -errno.
int bound_socket(const sockaddr_storage& address) {
    int fd = ::socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int one = 1;
    socklen_t length = address.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, reinterpret_cast<const sockaddr*>(&address), length) != 0) {
        int err = -errno;
        ::close(fd);
        return err;
    }
    return fd;
}

void set_port(sockaddr_storage& address, std::uint16_t port) {
    if (address.ss_family == AF_INET6) {
        reinterpret_cast<sockaddr_in6&>(address).sin6_port = htons(port);
    } else {
        reinterpret_cast<sockaddr_in&>(address).sin_port = htons(port);
    }
}

// Binds the listen address. Port 0 is resolved to a free port first and then bound explicitly:
// the kernel keeps an explicitly bound port across `refuse reject` (SHUT_RD, then listen again),
// while a port it picked itself would be given up.
int bind_listener(sockaddr_storage address) {
    int fd = bound_socket(address);
    bool is_any_port = reinterpret_cast<const sockaddr_in&>(address).sin_port == 0;
    for (int attempt = 0; is_any_port && fd >= 0 && attempt < 8; ++attempt) {
        sockaddr_storage picked{};
        socklen_t length = sizeof picked;
        if (getsockname(fd, reinterpret_cast<sockaddr*>(&picked), &length) != 0) break;
        ::close(fd);
        set_port(address, ntohs(reinterpret_cast<const sockaddr_in&>(picked).sin_port));
        fd = bound_socket(address);
        if (fd != -EADDRINUSE) break;
        set_port(address, 0);  // taken in between: pick again
        fd = bound_socket(address);
    }
    if (fd >= 0 && listen(fd, SOMAXCONN) != 0) {
        int err = -errno;
        ::close(fd);
        return err;
    }
    return fd;
}

}  // namespace

int Proxy::start() {
    if (int err = open_listener(); err != 0) return err;
    return start_accepting();
}

int Proxy::open_listener() {
    sockaddr_storage address{};
    if (int err = to_sockaddr(config_.listen, address); err != 0) return err;
    int fd = bind_listener(address);
    if (fd < 0) return fd;
    listen_fd_ = fd;
    sockaddr_storage bound{};
    socklen_t bound_length = sizeof bound;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_length) == 0) {
        bound_address_ = address_text(reinterpret_cast<const sockaddr&>(bound));
        // Port 0 became a real port: keep it, so the proxy comes back on it when re-enabled.
        config_.listen.port = ntohs(reinterpret_cast<const sockaddr_in&>(bound).sin_port);
    }
    return 0;
}

int Proxy::start_accepting() {
    acceptor_ = UvHandle<uv_poll_t>(this);
    resume_timer_ = UvHandle<uv_timer_t>(this);
    int err = uv_poll_init_socket(runtime_.loop(), acceptor_.get(), listen_fd_);
    if (err == 0) {
        acceptor_.mark_initialised();
        err = uv_timer_init(runtime_.loop(), resume_timer_.get());
    }
    if (err == 0) {
        resume_timer_.mark_initialised();
        err = uv_poll_start(acceptor_.get(), UV_READABLE, on_acceptable);
    }
    if (err != 0) {
        stop_listening();
        return err;
    }
    teardown::log_event(teardown::LogLevel::info, {{"event", "listening"},
                                                   {"kind", "proxy"},
                                                   {"proxy", config_.name},
                                                   {"address", bound_address_},
                                                   {"upstream", config_.upstream.text()}});
    update_listener_action();
    return 0;
}

void Proxy::stop_listening() {
    release_accept_queue();
    reset_accept_queue();
    filler_addresses_.clear();
    // The poll handle lets go of the descriptor synchronously; then it can be closed.
    acceptor_.close();
    resume_timer_.close();
    if (listen_fd_ >= 0) ::close(std::exchange(listen_fd_, -1));
    bound_address_.clear();
}

void Proxy::on_acceptable(uv_poll_t* handle, int status, int) {
    auto* self = static_cast<Proxy*>(handle->data);
    if (!self) return;
    if (status < 0) {
        // libuv has stopped the poll; the pause starts it again.
        self->pause_accepting(status);
        return;
    }
    self->accept_pending();
}

int Proxy::accept_client(sockaddr_storage& peer) {
    for (;;) {
        peer = {};  // left empty (AF_UNSPEC) when the kernel does not know the client's address
        socklen_t length = sizeof peer;
        int fd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &length,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            int error = errno;
            if (error == EINTR || error == ECONNABORTED) continue;
            if ((error == EAGAIN || error == EWOULDBLOCK) && filler_fds_.empty()) {
                // The queue is drained: the released fillers that were in it are all accepted,
                // and any other filler address is stale (a later client could come from that
                // port).
                filler_addresses_.clear();
            }
            return -error;
        }
        if (!filler_addresses_.empty() &&
            filler_addresses_.erase(address_text(reinterpret_cast<const sockaddr&>(peer)))) {
            ::close(fd);  // one of faultline's own queue fillers: no session, no record
            continue;
        }
        return fd;
    }
}

void Proxy::accept_pending() {
    // Bounded, so that a flood of connects cannot starve the sessions already running.
    for (int i = 0; i < 64 && listen_fd_ >= 0 && !is_paused_; ++i) {
        sockaddr_storage peer{};
        int fd = accept_client(peer);
        if (fd >= 0) {
            start_session(fd, peer.ss_family != AF_UNSPEC ? reinterpret_cast<const sockaddr*>(&peer)
                                                          : nullptr);
            continue;
        }
        if (fd == -EAGAIN || fd == -EWOULDBLOCK) return;
        if (fd == -EMFILE || fd == -ENFILE) {
            drop_one(fd);
        } else {
            // ENOBUFS, ENOMEM and the like: the poll would report the listener at once again.
            pause_accepting(fd);
        }
        return;
    }
}

void Proxy::start_session(int fd, const sockaddr* peer) {
    UvHandle<uv_tcp_t> client(nullptr);
    int err = uv_tcp_init(runtime_.loop(), client.get());
    if (err == 0) {
        client.mark_initialised();
        err = uv_tcp_open(client.get(), fd);
    }
    if (err != 0) {
        ::close(fd);
        teardown::log_event(
            teardown::LogLevel::warn,
            {{"event", "accept_failed"}, {"proxy", config_.name}, {"error", uv_err_name(err)}});
        return;
    }
    runtime_.create_session(*this).start(std::move(client), peer);
}

// No descriptor for the next connection: borrow the reserve one to accept it, so that it can be
// reset and recorded instead of left waiting, then pause.
void Proxy::drop_one(int status) {
    pause_accepting(status);
    (void)reset_next_with_reserve({Reason::unknown, Initiator::faultline, uv_err_name(status), {}});
}

bool Proxy::reset_next_with_reserve(const Cause& cause) {
    runtime_.release_reserve_descriptor();
    sockaddr_storage peer{};
    int fd = accept_client(peer);
    if (fd >= 0) reset_and_record(fd, peer, cause);
    runtime_.restore_reserve_descriptor();
    return fd >= 0;
}

void Proxy::reset_and_record(int fd, const sockaddr_storage& peer, const Cause& cause) {
    linger abort{1, 0};
    (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
    ::close(fd);
    TeardownRecord record;
    record.id = runtime_.allocate_id();
    record.proxy = config_.name;
    record.cause = cause;
    record.inside = config_.settings.inside;
    record.client.address = address_text(reinterpret_cast<const sockaddr&>(peer));
    record.client.state = EndpointState::rst_sent;
    record.server.address = config_.upstream.text();
    record.server.state = EndpointState::not_connected;
    runtime_.record(record);
}

void Proxy::reset_accept_queue() {
    const Cause cleared{Reason::xlate_clear, Initiator::faultline, {}, {}};
    while (listen_fd_ >= 0) {
        sockaddr_storage peer{};
        int fd = accept_client(peer);
        if (fd >= 0) {
            reset_and_record(fd, peer, cleared);
        } else if ((fd != -EMFILE && fd != -ENFILE) || !reset_next_with_reserve(cleared)) {
            return;  // drained (EAGAIN), or a listener that no longer accepts (refuse reject)
        }
    }
}

void Proxy::pause_accepting(int status) {
    if (!is_out_of_descriptors_) {
        is_out_of_descriptors_ = true;
        teardown::log_event(teardown::LogLevel::warn, {{"event", "accept_paused"},
                                                       {"proxy", config_.name},
                                                       {"error", uv_err_name(status)},
                                                       {"message", uv_strerror(status)}});
    }
    if (!acceptor_ || !resume_timer_) return;
    is_paused_ = true;
    (void)uv_poll_stop(acceptor_.get());
    (void)uv_timer_start(resume_timer_.get(), on_resume, accept_pause_ms, 0);
}

void Proxy::on_resume(uv_timer_t* handle) {
    auto* self = static_cast<Proxy*>(handle->data);
    if (!self || !self->acceptor_) return;
    self->is_paused_ = false;
    self->start_polling();
}

void Proxy::start_polling() {
    if (!acceptor_ || is_paused_ || listener_action_ != faults::ListenerAction::none) return;
    (void)uv_poll_start(acceptor_.get(), UV_READABLE, on_acceptable);
}

namespace {

// The same rules in the same order, each with the same fault specification (a rule that was not
// touched shares it with its previous version).
bool is_same_rule_list(const std::vector<rules::Rule>& a, const std::vector<rules::Rule>& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
        return x.name == y.name && x.stream == y.stream && x.toxicity == y.toxicity &&
               x.enabled == y.enabled && x.fault == y.fault && x.match == y.match;
    });
}

}  // namespace

void Proxy::set_rules(std::vector<rules::Rule> rules) {
    // A change elsewhere in the configuration leaves this proxy's connections alone.
    if (is_same_rule_list(rules, config_.rules)) return;
    // A rule that is new (or comes back) counts its connections from zero.
    rule_counters_.keep_only(rules);
    config_.rules = std::move(rules);
    update_listener_action();
    apply_to_sessions();
}

// Applying rules also re-arms each connection's timers with the proxy's settings.
void Proxy::apply_to_sessions() {
    // Applying rules can end sessions, which may then be freed: collect them first.
    std::vector<Session*> sessions(sessions_.begin(), sessions_.end());
    for (Session* session : sessions)
        session->apply_rules(config_.rules);
}

// reject: the listening socket stops listening (shutdown SHUT_RD), so connects are refused by the
// kernel; listen() again re-arms it on the same port. drop: the accept queue is shrunk and kept
// full by faultline's own connects, so new SYNs are dropped and connects hang.
void Proxy::update_listener_action() {
    auto wanted = faults::ListenerAction::none;
    const rules::Rule* deciding = nullptr;
    for (const auto& rule : config_.rules) {
        if (!rule.enabled || !rule.fault) continue;
        auto action = rule.fault->listener_action();
        if ((action == faults::ListenerAction::reject && wanted != action) ||
            (action == faults::ListenerAction::drop && wanted == faults::ListenerAction::none)) {
            wanted = action;
            deciding = &rule;
        }
    }
    if (wanted == listener_action_ || listen_fd_ < 0) return;
    // Refused connects never reach faultline: the rule counts as fired when it takes the
    // listener over.
    if (deciding) runtime_.count_rule_activation(config_.name, deciding->name);
    if (acceptor_) (void)uv_poll_stop(acceptor_.get());
    release_accept_queue();
    if (listener_action_ != faults::ListenerAction::none) (void)listen(listen_fd_, SOMAXCONN);
    listener_action_ = wanted;
    if (wanted == faults::ListenerAction::reject) {
        (void)::shutdown(listen_fd_, SHUT_RD);
    } else if (wanted == faults::ListenerAction::drop) {
        (void)listen(listen_fd_, 0);
        fill_accept_queue();
    }
    teardown::log_event(teardown::LogLevel::info,
                        {{"event", "listener"},
                         {"proxy", config_.name},
                         {"state", wanted == faults::ListenerAction::reject ? "refusing"
                                   : wanted == faults::ListenerAction::drop ? "dropping"
                                                                            : "accepting"}});
    start_polling();
}

void Proxy::fill_accept_queue() {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    if (getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) return;
    // A queue of backlog 0 holds one connection; two connects make sure it is full.
    for (int i = 0; i < 2; ++i) {
        int fd = ::socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) return;
        (void)connect(fd, reinterpret_cast<const sockaddr*>(&address), length);
        sockaddr_storage local{};
        socklen_t local_length = sizeof local;
        if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_length) == 0) {
            filler_addresses_.insert(address_text(reinterpret_cast<const sockaddr&>(local)));
        }
        filler_fds_.push_back(fd);
    }
}

void Proxy::release_accept_queue() {
    for (int fd : filler_fds_) {
        // A filler whose handshake never completed (its SYN was dropped) is in no accept queue:
        // forget its address now, or a client that later connects from the same port would be
        // closed as a filler, without a session or a record.
        sockaddr_storage peer{};
        socklen_t peer_length = sizeof peer;
        sockaddr_storage local{};
        socklen_t local_length = sizeof local;
        if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_length) != 0 &&
            getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_length) == 0) {
            filler_addresses_.erase(address_text(reinterpret_cast<const sockaddr&>(local)));
        }
        ::close(fd);
    }
    filler_fds_.clear();
    if (listen_fd_ < 0) filler_addresses_.clear();
}

void Proxy::update(rules::ProxyConfig config) {
    const rules::ProxySettings settings_before = config_.settings;
    auto new_rules = std::move(config.rules);
    config.rules = std::move(config_.rules);
    config_ = std::move(config);
    bool is_same_rules = is_same_rule_list(new_rules, config_.rules);
    set_rules(std::move(new_rules));
    // New timeouts apply to the live connections even when the rules stay the same.
    if (is_same_rules && !(config_.settings == settings_before)) apply_to_sessions();
}

void Proxy::note_connected() {
    if (!is_out_of_descriptors_) return;
    is_out_of_descriptors_ = false;
    teardown::log_event(teardown::LogLevel::info,
                        {{"event", "accept_resumed"}, {"proxy", config_.name}});
}

void Proxy::note_outcome(bool upstream_failed) {
    auto change = diagnosis_.record(uv_now(runtime_.loop()), upstream_failed);
    if (change == RefusalDiagnosis::Change::none) return;
    auto figures = diagnosis_.figures();
    bool started = change == RefusalDiagnosis::Change::started;
    teardown::log_event(started ? teardown::LogLevel::warn : teardown::LogLevel::info,
                        {{"event", "diagnosis"},
                         {"proxy", config_.name},
                         {"diagnosis", started ? "upstream is refusing connections"
                                               : "upstream accepts connections again"},
                         {"connects", figures.connects},
                         {"upstream_resets", figures.upstream_failures},
                         {"window_s", 60}});
}

}  // namespace faultline::proxy
