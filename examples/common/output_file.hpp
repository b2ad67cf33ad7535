// Output files that appear whole or not at all. Everything is written to a
// temporary file beside the target, which is renamed over the target only
// once complete: an error, a full disk, or a Ctrl-C halfway leaves any earlier
// file with that name untouched and no partial one behind.
//
//     example_io::output_file out("results.csv");   // "-" is standard output
//     std::fprintf(out.stream(), "step,lr\n");
//     out.commit();                                  // or nothing appears
//
// POSIX only (mkstemp, rename, signal handlers), as are the examples.
#pragma once

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace example_io {

class io_error : public std::runtime_error {
public:
    io_error(const std::string& path, const std::string& problem) : std::runtime_error(path + ": " + problem) {}
};

namespace detail {

// Temporary files still on disk, so that a fatal signal can remove them. The
// handler may only call async-signal-safe functions, hence fixed buffers.
inline constexpr std::size_t max_pending = 8;
inline std::array<std::array<char, 4096>, max_pending> pending{};
inline volatile std::sig_atomic_t pending_used[max_pending] = {};

extern "C" inline void remove_pending_and_die(int sig) {
    for (std::size_t i = 0; i < max_pending; ++i)
        if (pending_used[i]) ::unlink(pending[i].data());
    std::signal(sig, SIG_DFL);
    std::raise(sig);
}

inline constexpr int cleanup_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};

inline void install_handlers_once() {
    static const bool installed = [] {
        for (int sig : cleanup_signals) {
            // An ignored signal stays ignored (nohup, a shell's background job).
            if (std::signal(sig, remove_pending_and_die) == SIG_IGN) std::signal(sig, SIG_IGN);
        }
        return true;
    }();
    (void)installed;
}

// Holds the cleanup signals back for its lifetime (they are delivered when
// it ends), with the handlers installed first.
class signals_held {
public:
    signals_held() {
        install_handlers_once();
        sigset_t set;
        sigemptyset(&set);
        for (int sig : cleanup_signals) sigaddset(&set, sig);
        ::sigprocmask(SIG_BLOCK, &set, &old_);
    }
    ~signals_held() { ::sigprocmask(SIG_SETMASK, &old_, nullptr); }
    signals_held(const signals_held&) = delete;
    signals_held& operator=(const signals_held&) = delete;

private:
    sigset_t old_{};
};

inline int remember(const std::string& path) {
    if (path.size() >= pending[0].size()) return -1;  // too long to track; still removed on normal paths
    for (std::size_t i = 0; i < max_pending; ++i) {
        if (!pending_used[i]) {
            std::memcpy(pending[i].data(), path.c_str(), path.size() + 1);
            pending_used[i] = 1;
            return static_cast<int>(i);
        }
    }
    return -1;
}

inline void forget(int slot) {
    if (slot >= 0) pending_used[slot] = 0;
}

inline std::string error_text(int err) { return std::strerror(err); }

}  // namespace detail

// A unique empty file next to `target`, removed again unless commit() renames
// it onto the target. For files another program writes (gnuplot's image).
class temp_file {
public:
    explicit temp_file(const std::string& target) : target_(target) {
        namespace fs = std::filesystem;
        const fs::path t(target);
        const fs::path dir = t.has_parent_path() ? t.parent_path() : fs::path(".");
        std::string pattern = (dir / ("." + t.filename().string() + ".XXXXXX")).string();
        std::vector<char> buf(pattern.begin(), pattern.end());
        buf.push_back('\0');
        {
            // A signal between creating the file and recording it would leave
            // the file behind, so none is taken until both are done.
            const detail::signals_held hold;
            fd_ = ::mkstemp(buf.data());
            if (fd_ >= 0) {
                path_ = buf.data();
                slot_ = detail::remember(path_);
            }
        }
        if (fd_ < 0) {
            const int err = errno;
            throw io_error(target, "cannot create a temporary file in " + dir.string() + ": " + detail::error_text(err));
        }
        // mkstemp makes the file private (0600); the result should get the
        // permissions any new file would.
        const mode_t mask = ::umask(0);
        ::umask(mask);
        ::fchmod(fd_, 0666 & ~mask);
    }

    temp_file(const temp_file&) = delete;
    temp_file& operator=(const temp_file&) = delete;

    ~temp_file() {
        close_fd();
        if (!committed_) ::unlink(path_.c_str());
        detail::forget(slot_);
    }

    const std::string& path() const noexcept { return path_; }
    const std::string& target() const noexcept { return target_; }

    // Hands the descriptor over (to fdopen); the caller then closes it.
    int release_fd() noexcept {
        const int fd = fd_;
        fd_ = -1;
        return fd;
    }

    void commit() {
        close_fd();
        if (::rename(path_.c_str(), target_.c_str()) != 0) {
            const int err = errno;
            throw io_error(target_, "cannot rename " + path_ + " into place: " + detail::error_text(err));
        }
        committed_ = true;
    }

private:
    void close_fd() noexcept {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

    std::string target_;
    std::string path_;
    int fd_ = -1;
    int slot_ = -1;
    bool committed_ = false;
};

// A stdio stream onto a temp_file, or onto standard output for "-".
class output_file {
public:
    explicit output_file(const std::string& target) : target_(target) {
        if (target == "-") {
            stream_ = stdout;
            return;
        }
        temp_.emplace(target);
        const int fd = temp_->release_fd();
        stream_ = ::fdopen(fd, "w");
        if (stream_ == nullptr) {
            const int err = errno;
            ::close(fd);
            throw io_error(target, "cannot open " + temp_->path() + ": " + detail::error_text(err));
        }
    }

    output_file(const output_file&) = delete;
    output_file& operator=(const output_file&) = delete;

    ~output_file() {
        if (stream_ != nullptr && stream_ != stdout) std::fclose(stream_);
    }

    std::FILE* stream() const noexcept { return stream_; }
    // Where the data is until commit(); empty for standard output.
    std::string temp_path() const { return temp_ ? temp_->path() : std::string(); }
    bool is_stdout() const noexcept { return !temp_.has_value(); }

    // Flushes and closes, throwing if any write failed; the file is not yet
    // in place. Lets a program finish every output before committing any.
    void finish() {
        if (finished_) return;
        finished_ = true;
        const std::string shown = is_stdout() ? std::string("standard output") : target_;
        // errno is only meaningful when the failure is detected here; an
        // earlier failed write leaves just the error flag behind.
        const bool earlier = std::ferror(stream_) != 0;
        errno = 0;
        bool failed = std::fflush(stream_) != 0;
        int err = errno;
        if (!is_stdout()) {
            std::FILE* s = stream_;
            stream_ = nullptr;
            if (std::fclose(s) != 0 && !failed) {
                failed = true;
                err = errno;
            }
        }
        if (earlier || failed)
            throw io_error(shown, std::string("write failed") + (err != 0 ? ": " + detail::error_text(err) : ""));
    }

    // finish(), then moves the file into place.
    void commit() {
        finish();
        if (temp_) temp_->commit();
    }

private:
    std::string target_;
    std::optional<temp_file> temp_;
    std::FILE* stream_ = nullptr;
    bool finished_ = false;
};

}  // namespace example_io
