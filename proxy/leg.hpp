// One endpoint's side of a session: its socket, read with backpressure, the bytes queued toward
// it, the FIN faultline sends it, the reset watch, and the way it closes. A leg decides nothing
// about the connection: it reports what happens on its socket to the session (LegEvents), and
// does what the session asks.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <optional>

#include "proxy/buffer_pool.hpp"
#include "proxy/reset_watch.hpp"
#include "proxy/uv_handle.hpp"
#include "teardown/classification.hpp"

namespace faultline::proxy {

// How a leg closes, from the mildest to the harshest.
enum class CloseType {
    graceful,          // FIN after every byte queued in faultline, then the socket is released
    close_now,         // the socket is released at once: the kernel sends what it already holds,
                       // then FIN; bytes still queued in faultline are dropped (a timeout)
    flush_then_reset,  // RST once every queued byte has left the kernel
    reset,             // RST at once: what is queued is thrown away (the RST overtakes it)
};

class Leg;

// What a leg reports to its session.
class LegEvents {
  public:
    // The upstream connect finished (0) or failed (a libuv error).
    virtual void on_leg_connected(Leg& leg, int status) = 0;
    // Bytes read, in a pool buffer that the session now owns.
    virtual void on_leg_read(Leg& leg, char* buffer, std::size_t length) = 0;
    // The endpoint sent FIN: its input is drained.
    virtual void on_leg_eof(Leg& leg) = 0;
    // A read, write or shutdown failed, or the reset watch saw an RST (a libuv error).
    virtual void on_leg_failed(Leg& leg, int status) = 0;
    // Queued bytes went to the kernel.
    virtual void on_leg_written(Leg& leg) = 0;
    // The FIN faultline sent toward the endpoint is out.
    virtual void on_leg_shut_down(Leg& leg) = 0;
    // A close that had to wait (a flush, a FIN) has finished.
    virtual void on_leg_closed(Leg& leg) = 0;

  protected:
    ~LegEvents() = default;
};

class Leg {
  public:
    // A queued remainder up to this size is copied out of its pool buffer.
    static constexpr std::size_t small_write_bytes = std::size_t{8} * 1024;
    // What a queued write costs at least, counted against the limit: the request and allocation.
    static constexpr std::size_t min_write_charge = 512;
    // A close that flushes waits at most this long; then it resets.
    static constexpr std::uint64_t flush_limit_ms = 2000;

    Leg(LegEvents& events, teardown::Side side, uv_loop_t* loop, BufferPool& buffers);
    Leg(const Leg&) = delete;
    Leg& operator=(const Leg&) = delete;
    ~Leg();

    // The accepted client socket: the leg is connected.
    void adopt(UvHandle<uv_tcp_t> tcp);
    // The upstream side: opens a socket and connects it; on_leg_connected follows unless this
    // returns an error. Each call replaces the previous socket (the next address of a name).
    [[nodiscard]] int connect(const sockaddr& address);
    // The connect succeeded: bytes may flow.
    void set_connected();

    // Reading. A paused leg is not read because the other leg cannot keep up; meanwhile the
    // reset watch notices an RST it sends.
    void start_reading();
    void pause();
    void resume();

    // Writes bytes toward the endpoint: what the kernel takes at once, the rest queued. `pooled`
    // is the pool buffer that holds `data` (given back or kept by the queued write), or nullptr.
    // A write after the FIN, or on a closing leg, is dropped.
    void write(const char* data, std::size_t length, char* pooled);
    // FIN toward the endpoint after every byte queued before it (a half-close).
    void shutdown_write();
    // The endpoint's input is over without a FIN (it reset a flow that a rule made silent): the
    // leg is read no more, and counts as drained.
    void end_input();
    // After the endpoint's own FIN, an RST it sends in answer to later bytes would go unseen
    // (nothing reads it any more): the reset watch notices it.
    void watch_for_reset();

    // Closes the leg the given way; `state` is what the record says of the endpoint (a close
    // that cannot flush in time resets instead, and says rst_sent). Closing again with a harsher
    // way takes over (a reset overrides a flush); a milder one changes nothing. Returns true when
    // the leg is closed now; otherwise on_leg_closed follows.
    bool close(CloseType type, teardown::EndpointState state);

    [[nodiscard]] teardown::Side side() const { return side_; }
    [[nodiscard]] bool is_connected() const { return is_connected_; }
    [[nodiscard]] bool is_reading() const { return is_reading_; }
    [[nodiscard]] bool has_eof() const { return has_eof_; }
    [[nodiscard]] bool is_shutdown_requested() const { return is_shutdown_requested_; }
    [[nodiscard]] bool is_shut_down() const { return is_shut_down_; }
    [[nodiscard]] bool is_closing() const { return closing_.has_value(); }
    [[nodiscard]] bool is_closed() const { return is_closed_; }
    // Accepted for writing toward the endpoint and not yet written, as charged.
    [[nodiscard]] std::size_t queued_bytes() const { return queued_bytes_; }
    [[nodiscard]] std::uint64_t delivered_bytes() const { return delivered_bytes_; }
    [[nodiscard]] uv_tcp_t* tcp() const { return tcp_.get(); }
    // What the endpoint did and what was done to it, for the record.
    [[nodiscard]] teardown::EndpointHistory& history() { return history_; }
    [[nodiscard]] const teardown::EndpointHistory& history() const { return history_; }

  private:
    static void on_alloc(uv_handle_t* handle, std::size_t suggested, uv_buf_t* buf);
    static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
    static void on_write(uv_write_t* req, int status);
    static void on_shutdown(uv_shutdown_t* req, int status);
    static void on_connect(uv_connect_t* req, int status);
    static void on_reset_seen(void* owner, int error);
    static void on_close_timer(uv_timer_t* handle);

    void stop_reading();
    void on_written(std::size_t length, std::size_t held, int status);
    void on_shut_down(int status);
    // A waiting close is done, or its time is up; `is_async`: report it with on_leg_closed.
    void check_closing(bool is_async);
    void release(bool with_reset);

    LegEvents& events_;
    teardown::Side side_;
    uv_loop_t* loop_;
    BufferPool& buffers_;
    UvHandle<uv_tcp_t> tcp_;
    ResetWatch reset_watch_;
    teardown::EndpointHistory history_;
    bool is_connected_ = false;
    bool is_reading_ = false;
    bool is_paused_ = false;
    bool has_eof_ = false;
    bool is_shutdown_requested_ = false;
    bool is_shut_down_ = false;
    bool is_closed_ = false;
    std::size_t queued_bytes_ = 0;
    std::uint64_t delivered_bytes_ = 0;
    // A close that waits: its way, the state it will record, and when it stops waiting.
    std::optional<CloseType> closing_;
    teardown::EndpointState closing_state_ = teardown::EndpointState::closed;
    std::uint64_t closing_deadline_ms_ = 0;
    UvHandle<uv_timer_t> close_timer_;
};

}  // namespace faultline::proxy
