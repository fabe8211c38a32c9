// Running faults in rule order, and the Context each one acts through.
#include "proxy/stream_chain.hpp"

#include <algorithm>

namespace faultline::proxy {

RuleRunner::RuleRunner(ChainHost& host, StreamChain& chain, rules::Rule rule)
    : host_(host), chain_(chain), rule_(std::move(rule)) {}

RuleRunner::~RuleRunner() = default;

bool RuleRunner::is_ready() const {
    return !is_waiting_for_time_ && !is_waiting_for_bytes();
}

bool RuleRunner::is_waiting_for_bytes() const {
    return !fault_ && rule_.match.after_bytes && bytes_seen_ < *rule_.match.after_bytes;
}

void RuleRunner::arm(std::uint64_t connection_age_ms) {
    if (rule_.match.after) {
        auto after = static_cast<std::uint64_t>(rule_.match.after->count());
        if (after > connection_age_ms) {
            is_waiting_for_time_ = true;
            set_timer(now() + faults::Micros((after - connection_age_ms) * 1000));
            return;
        }
    }
    if (!is_waiting_for_bytes()) start();
}

std::size_t RuleRunner::count_passing(std::size_t length) {
    if (!is_waiting_for_bytes()) return 0;
    if (is_waiting_for_time_) {
        bytes_seen_ += length;
        return length;
    }
    std::uint64_t missing = *rule_.match.after_bytes - bytes_seen_;
    std::size_t passing = static_cast<std::size_t>(std::min<std::uint64_t>(missing, length));
    bytes_seen_ += passing;
    return passing;
}

void RuleRunner::start() {
    if (fault_ || !rule_.fault || host_.chain_is_over()) return;
    fault_ = rule_.fault->create();
    if (!fault_) return;
    host_.rule_started(*this);
    fault_->on_start(*this);
    host_.chain_changed(rule_.stream);
}

void RuleRunner::update(rules::Rule rule) {
    bool same_type = rule.fault && rule_.fault && rule.fault->type() == rule_.fault->type();
    rule_ = std::move(rule);
    if (fault_ && same_type) {
        rule_.fault->update(*fault_);
        fault_->on_update(*this);
        host_.chain_changed(rule_.stream);
    }
}

bool RuleRunner::stop() {
    cancel_timer();
    if (!fault_) return false;
    auto fault = std::move(fault_);
    // Everything it releases now goes on past it; fault_ is already empty, so the chain skips it.
    fault->on_stop(*this);
    return fault->has_broken_stream();
}

faults::Micros RuleRunner::now() const {
    return faults::Micros(uv_hrtime() / 1000);
}

double RuleRunner::random() {
    return host_.chain_random();
}

faults::Micros RuleRunner::last_activity() const {
    return host_.chain_last_activity();
}

void RuleRunner::forward(std::string bytes) {
    chain_.pass_from(chain_.index_of(*this) + 1, std::move(bytes));
}

void RuleRunner::forward_end() {
    chain_.end_from(chain_.index_of(*this) + 1);
}

void RuleRunner::reset(faults::Target target, bool flush) {
    host_.rule_reset(*this, target, flush);
}

void RuleRunner::close() {
    host_.rule_close(*this);
}

void RuleRunner::go_silent() {
    host_.rule_go_silent(*this);
}

void RuleRunner::reset_on_reverse_data() {
    host_.rule_reset_on_reverse_data(*this);
}

void RuleRunner::set_timer(faults::Micros at) {
    if (!timer_) {
        timer_ = UvHandle<uv_timer_t>(this);
        if (uv_timer_init(host_.chain_loop(), timer_.get()) != 0) {
            timer_ = {};
            return;
        }
        timer_.mark_initialised();
    }
    auto delay = at - now();
    // libuv timers count whole milliseconds: round up, so nothing fires early.
    auto ms = delay.count() <= 0 ? 0 : static_cast<std::uint64_t>((delay.count() + 999) / 1000);
    (void)uv_timer_start(timer_.get(), on_timer, ms, 0);
}

void RuleRunner::cancel_timer() {
    if (timer_) (void)uv_timer_stop(timer_.get());
}

void RuleRunner::on_timer(uv_timer_t* handle) {
    auto* self = static_cast<RuleRunner*>(handle->data);
    if (!self || self->host_.chain_is_over()) return;
    if (self->is_waiting_for_time_) {
        self->is_waiting_for_time_ = false;
        if (!self->is_waiting_for_bytes()) self->start();
        return;
    }
    if (self->fault_) {
        self->fault_->on_timer(*self);
        self->host_.chain_changed(self->rule_.stream);
    }
}

std::size_t StreamChain::held_bytes() const {
    std::size_t held = 0;
    for (const auto& runner : runners_)
        held += runner->held_bytes();
    return held;
}

RuleRunner* StreamChain::find(std::string_view name) {
    for (auto& runner : runners_) {
        if (runner->rule().name == name) return runner.get();
    }
    return nullptr;
}

std::vector<std::string> StreamChain::names() const {
    std::vector<std::string> names;
    for (const auto& runner : runners_)
        names.push_back(runner->rule().name);
    return names;
}

void StreamChain::remove(std::string_view name) {
    auto it = std::find_if(runners_.begin(), runners_.end(),
                           [name](const auto& runner) { return runner->rule().name == name; });
    if (it == runners_.end()) return;
    if ((*it)->stop()) host_.rule_left_broken_stream(std::string(name));
    // stop() may have ended the connection, and the chain with it; look again.
    it = std::find_if(runners_.begin(), runners_.end(),
                      [name](const auto& runner) { return runner->rule().name == name; });
    if (it != runners_.end()) runners_.erase(it);
}

void StreamChain::release_after(const RuleRunner& runner) {
    for (std::size_t i = index_of(runner) + 1; i < runners_.size(); ++i)
        (void)runners_[i]->stop();
}

std::size_t StreamChain::index_of(const RuleRunner& runner) const {
    for (std::size_t i = 0; i < runners_.size(); ++i) {
        if (runners_[i].get() == &runner) return i;
    }
    return runners_.size();
}

void StreamChain::pass_from(std::size_t index, std::string bytes) {
    for (std::size_t i = index; i < runners_.size(); ++i) {
        RuleRunner& runner = *runners_[i];
        if (!runner.is_running() && runner.is_ready()) runner.start();
        if (runner.is_running()) {
            runner.fault()->on_data(runner, std::move(bytes));
            return;
        }
        // A rule waiting for after_bytes lets bytes by until enough have passed; the rest is its.
        std::size_t passing = runner.count_passing(bytes.size());
        if (passing == bytes.size() && passing > 0 && runner.is_ready()) {
            // The threshold falls at the end of this chunk: it passes, then the fault starts.
            pass_from(i + 1, std::move(bytes));
            runner.start();
            return;
        }
        if (passing == 0 || passing == bytes.size()) continue;
        std::string rest = bytes.substr(passing);
        bytes.resize(passing);
        pass_from(i + 1, std::move(bytes));
        runner.start();
        if (runner.is_running()) {
            runner.fault()->on_data(runner, std::move(rest));
        } else {
            pass_from(i + 1, std::move(rest));
        }
        return;
    }
    if (!bytes.empty()) host_.deliver(stream_, std::move(bytes));
}

void StreamChain::end_from(std::size_t index) {
    for (std::size_t i = index; i < runners_.size(); ++i) {
        RuleRunner& runner = *runners_[i];
        if (!runner.is_running() && runner.is_ready()) runner.start();
        if (runner.is_running()) {
            runner.fault()->on_end(runner);
            return;
        }
    }
    host_.deliver_end(stream_);
}

}  // namespace faultline::proxy
