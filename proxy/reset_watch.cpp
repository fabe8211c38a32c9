// The duplicate-descriptor poll that notices an RST on a socket that is no longer read.
#include "proxy/reset_watch.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace faultline::proxy {

void ResetWatch::start(uv_loop_t* loop, uv_tcp_t* tcp, Callback callback, void* owner) {
    if (poll_) return;
    uv_os_fd_t fd = -1;
    if (uv_fileno(reinterpret_cast<uv_handle_t*>(tcp), &fd) != 0) return;
    int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (copy < 0) return;
    poll_ = UvHandle<uv_poll_t>(this);
    if (uv_poll_init_socket(loop, poll_.get(), copy) != 0) {
        poll_ = {};
        ::close(copy);
        return;
    }
    poll_.mark_initialised();
    fd_ = copy;
    tcp_ = tcp;
    callback_ = callback;
    owner_ = owner;
    // Errors and hang-ups are always reported; asking for urgent data only keeps EPOLLIN (which
    // stays set after a FIN) from firing.
    if (uv_poll_start(poll_.get(), UV_PRIORITIZED, on_poll) != 0) stop();
}

void ResetWatch::stop() {
    // The poll handle lets go of the descriptor synchronously; then it can be closed.
    poll_.close();
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
}

void ResetWatch::on_poll(uv_poll_t* handle, int, int) {
    auto* self = static_cast<ResetWatch*>(handle->data);
    if (!self) return;
    int error = 0;
    socklen_t length = sizeof error;
    uv_os_fd_t fd = -1;
    if (uv_fileno(reinterpret_cast<uv_handle_t*>(self->tcp_), &fd) == 0) {
        (void)getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
    }
    if (error == 0) {
        self->stop();  // a hang-up after FINs both ways: nothing to mirror
        return;
    }
    self->callback_(self->owner_, error == EPIPE ? UV_ECONNRESET : -error);
}

}  // namespace faultline::proxy
