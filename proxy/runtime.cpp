// Shared per-loop services.
#include "proxy/runtime.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cassert>
#include <string_view>
#include <utility>

#include "proxy/proxy.hpp"
#include "proxy/session.hpp"
#include "rules/random.hpp"
#include "teardown/log.hpp"

namespace faultline::proxy {

Runtime::Runtime(uv_loop_t* loop) : loop_(loop), clock_(loop), reaper_(this) {
    int err = uv_check_init(loop_, reaper_.get());
    assert(err == 0);
    (void)err;
    reaper_.mark_initialised();
    restore_reserve_descriptor();
}

Runtime::~Runtime() {
    release_reserve_descriptor();
}

void Runtime::seed(std::optional<std::uint64_t> seed) {
    seed_ = seed;
}

std::uint64_t Runtime::session_seed(std::string_view proxy, std::uint64_t index) {
    if (!seed_) return unseeded_();
    return rules::connection_seed(*seed_, proxy, index);
}

void Runtime::release_reserve_descriptor() {
    if (reserve_fd_ >= 0) ::close(std::exchange(reserve_fd_, -1));
}

void Runtime::restore_reserve_descriptor() {
    if (reserve_fd_ < 0) reserve_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

Session& Runtime::create_session(Proxy& proxy) {
    std::uint64_t id = allocate_id();
    auto [it, inserted] = sessions_.emplace(id, std::make_unique<Session>(*this, proxy, id));
    assert(inserted);
    return *it->second;
}

void Runtime::record(const teardown::TeardownRecord& record) {
    auto json = teardown::to_json(record);
    teardown::log_event(teardown::LogLevel::info, json, teardown::to_text(record));
    counters_.count(record);
    if (on_record) on_record(std::move(json));
}

void Runtime::retire(Session& session) {
    auto it = sessions_.find(session.id());
    if (it == sessions_.end()) return;
    retired_.push_back(std::move(it->second));
    sessions_.erase(it);
    start_reaper();
}

void Runtime::defer(std::function<void()> task) {
    deferred_.push_back(std::move(task));
    start_reaper();
}

void Runtime::start_reaper() {
    if (reaper_ && !uv_is_active(reaper_.base())) {
        int err = uv_check_start(reaper_.get(), on_check);
        assert(err == 0);
        (void)err;
    }
}

void Runtime::on_check(uv_check_t* handle) {
    auto* self = static_cast<Runtime*>(handle->data);
    if (!self) return;
    self->run_deferred();
    (void)uv_check_stop(handle);
}

// A task may defer more (a shutdown retiring the API's sockets): all of it runs in this round.
void Runtime::run_deferred() {
    while (!retired_.empty() || !deferred_.empty()) {
        retired_.clear();
        auto tasks = std::move(deferred_);
        deferred_.clear();
        for (auto& task : tasks)
            task();
    }
}

void Runtime::clear_sessions(const Proxy* proxy, teardown::Reason reason) {
    std::vector<Session*> victims;
    if (proxy) {
        victims.assign(proxy->sessions().begin(), proxy->sessions().end());
    } else {
        for (auto& [id, session] : sessions_)
            victims.push_back(session.get());
    }
    for (Session* session : victims)
        session->clear(reason);
}

void Runtime::clear_sessions(const std::unordered_set<const Proxy*>& proxies,
                             teardown::Reason reason) {
    std::vector<Session*> victims;
    for (const Proxy* proxy : proxies)
        victims.insert(victims.end(), proxy->sessions().begin(), proxy->sessions().end());
    for (Session* session : victims)
        session->clear(reason);
}

namespace {

// "[::ffff:127.0.0.1]:5000" as "127.0.0.1:5000": a dual-stack listener sees IPv4 peers so.
std::string unmapped(std::string address) {
    constexpr std::string_view prefix = "[::ffff:";
    const auto close = address.find(']');
    if (!address.starts_with(prefix) || close == std::string::npos) return address;
    const std::string host = address.substr(prefix.size(), close - prefix.size());
    if (host.find('.') == std::string::npos) return address;
    return host + address.substr(close + 1);
}

}  // namespace

void Runtime::register_upstream(const std::string& local, Address remote, Session& session) {
    upstreams_[unmapped(local)].push_back({std::move(remote), &session});
}

void Runtime::unregister_upstream(const std::string& local, const Session& session) {
    auto it = upstreams_.find(unmapped(local));
    if (it == upstreams_.end()) return;
    std::erase_if(it->second, [&session](const Upstream& u) { return u.session == &session; });
    if (it->second.empty()) upstreams_.erase(it);
}

Session* Runtime::upstream_session(const std::string& client_address,
                                   const Address& reached) const {
    if (upstreams_.empty()) return nullptr;
    auto it = upstreams_.find(unmapped(client_address));
    if (it == upstreams_.end()) return nullptr;
    const std::string reached_address = unmapped(reached());
    if (reached_address.empty()) return nullptr;
    for (const Upstream& upstream : it->second) {
        if (unmapped(upstream.remote()) == reached_address) return upstream.session;
    }
    return nullptr;
}

std::vector<Session*> Runtime::loop_chain(const std::string& client_address, const Address& reached,
                                          const Proxy& proxy) const {
    std::vector<Session*> chain;
    for (Session* s = upstream_session(client_address, reached); s && chain.size() < 64;
         s = upstream_session(s->client_address(), [s] { return s->client_reached(); })) {
        chain.push_back(s);
        if (&s->proxy() == &proxy) return chain;
    }
    return {};
}

bool Runtime::is_own_upstream(const std::string& peer, const Address& reached) const {
    return upstream_session(peer, reached) != nullptr;
}

void Runtime::close() {
    run_deferred();
    reaper_.close();
}

}  // namespace faultline::proxy
