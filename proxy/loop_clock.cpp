// libuv timers behind the rule engine's Timer.
#include "proxy/loop_clock.hpp"

#include "proxy/uv_handle.hpp"

namespace faultline::proxy {
namespace {

class LoopTimer final : public rules::Timer {
  public:
    LoopTimer(uv_loop_t* loop, const LoopClock& clock, std::function<void()> on_fire)
        : clock_(clock), on_fire_(std::move(on_fire)), timer_(this) {
        if (uv_timer_init(loop, timer_.get()) == 0) {
            timer_.mark_initialised();
        } else {
            timer_ = {};  // no timer: start() does nothing
        }
    }

    void start(rules::Micros at) override {
        if (!timer_) return;
        auto delay = (at - clock_.now()).count();
        // libuv timers count whole milliseconds: round up, so nothing fires early.
        auto ms = delay <= 0 ? 0 : static_cast<std::uint64_t>((delay + 999) / 1000);
        (void)uv_timer_start(timer_.get(), on_timer, ms, 0);
    }

    void stop() override {
        if (timer_) (void)uv_timer_stop(timer_.get());
    }

  private:
    static void on_timer(uv_timer_t* handle) {
        auto* self = static_cast<LoopTimer*>(handle->data);
        if (self) self->on_fire_();
    }

    const LoopClock& clock_;
    std::function<void()> on_fire_;
    UvHandle<uv_timer_t> timer_;
};

}  // namespace

rules::Micros LoopClock::now() const {
    return rules::Micros(uv_hrtime() / 1000);
}

std::unique_ptr<rules::Timer> LoopClock::make_timer(std::function<void()> on_fire) {
    return std::make_unique<LoopTimer>(loop_, *this, std::move(on_fire));
}

}  // namespace faultline::proxy
