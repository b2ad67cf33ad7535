// Output files that appear whole or not at all. Everything is written to a
// temporary file beside the target, which is renamed over the target only
// once complete: an error, a full disk, or a Ctrl-C halfway leaves any earlier
// file with that name untouched and no partial one behind.
//
//     example_io::output_file out("results.csv");   // "-" is standard output
//     std::fprintf(out.stream(), "step,lr\n");
//     out.commit();                                  // or nothing appears
//
// What the name points at decides how it is written (inspect_target):
// - a new file, or an existing regular file: a temporary file renamed over
//   it, with the mode of the file it replaces;
// - a symlink: followed, and its target written as above (the link stays);
// - a regular file with other hard links: staged in a temporary file, then
//   copied into the file itself on commit, so that every link sees it;
// - a device, a FIFO, a socket, "-" or /dev/stdout: written directly, since
//   a rename would replace the device with a plain file;
// - a directory, or an existing file the user may not write, is refused.
//
// POSIX only (mkstemp, rename, signal handlers), as are the examples.
#pragma once

#include <fcntl.h>
#include <limits.h>
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
    io_error(const std::string& path, const std::string& problem)
        : std::runtime_error(path + ": " + problem) {}
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

inline bool is_standard_output_name(const std::string& path) {
    return path == "-" || path == "/dev/stdout" || path == "/dev/fd/1" || path == "/proc/self/fd/1";
}

// What an output name refers to, and how it will be written.
struct target_info {
    enum class kind {
        standard_output,  // "-", /dev/stdout
        create,           // nothing there yet: a temporary file renamed into place
        replace,          // a regular file: the same, keeping its mode
        copy_into,        // a regular file with other hard links: staged, then copied into it
        direct,           // a device, FIFO or socket: written directly
    };
    std::string path;      // as given
    std::string resolved;  // symlinks followed: the name the data goes to
    kind how = kind::create;
    mode_t mode = 0;  // of the existing file (replace, copy_into)
    bool exists = false;
    dev_t dev = 0;
    ino_t ino = 0;
};

namespace detail {

inline std::string parent_of(const std::string& path) {
    namespace fs = std::filesystem;
    const fs::path p(path);
    return p.has_parent_path() ? p.parent_path().string() : std::string(".");
}

// `path` with every symlink in its last component followed, even one whose
// target does not exist yet (writing there creates it, as open() would).
inline std::string follow_symlinks(const std::string& path) {
    namespace fs = std::filesystem;
    std::string p = path;
    for (int hops = 0;; ++hops) {
        struct stat st {};
        if (::lstat(p.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) return p;
        if (hops == 40) throw io_error(path, "too many levels of symbolic links");
        std::vector<char> buf(static_cast<std::size_t>(st.st_size > 0 ? st.st_size : PATH_MAX) + 1);
        const ssize_t n = ::readlink(p.c_str(), buf.data(), buf.size() - 1);
        if (n < 0) {
            const int err = errno;
            throw io_error(path, "cannot read the symbolic link " + p + ": " + error_text(err));
        }
        const fs::path link(std::string(buf.data(), static_cast<std::size_t>(n)));
        p = link.is_absolute() ? link.string() : (fs::path(parent_of(p)) / link).string();
    }
}

// May this process write the existing file? For root, access() says yes to
// everything, so the mode bits are read instead: a file nobody may write
// (mode 0444) is read-only by intent and is not replaced.
inline bool may_write(const std::string& path, const struct stat& st) {
    if (::geteuid() == 0) return (st.st_mode & (S_IWUSR | S_IWGRP | S_IWOTH)) != 0;
    return ::faccessat(AT_FDCWD, path.c_str(), W_OK, AT_EACCESS) == 0;
}

inline std::string octal_mode(mode_t m) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(m & 07777));
    return buf;
}

// A temporary name's prefix: the target's name, cut so that the whole name
// (".", prefix, ".XXXXXX") stays well within NAME_MAX.
inline std::string temp_prefix(const std::string& name) {
    constexpr std::size_t keep = 200;
    return name.size() <= keep ? name : name.substr(0, keep);
}

// Writes all of `fd_from` (from its start) to `fd_to`.
inline void copy_fd(int fd_from, int fd_to, const std::string& target) {
    if (::lseek(fd_from, 0, SEEK_SET) < 0) {
        const int err = errno;
        throw io_error(target, "cannot reread the temporary file: " + error_text(err));
    }
    std::vector<char> buf(std::size_t{1} << 16);
    for (;;) {
        ssize_t n = ::read(fd_from, buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const int err = errno;
            throw io_error(target, "cannot reread the temporary file: " + error_text(err));
        }
        if (n == 0) return;
        const char* p = buf.data();
        while (n > 0) {
            const ssize_t w = ::write(fd_to, p, static_cast<std::size_t>(n));
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) {
                const int err = errno;
                throw io_error(target, "write failed: " + error_text(err));
            }
            p += w;
            n -= w;
        }
    }
}

}  // namespace detail

// Where `path` leads and how it would be written, or io_error if it cannot
// be: a directory, a missing parent directory, an existing file the user may
// not write, a directory no file can be created in. Call it for every output
// before any work, so that a bad name costs nothing. Creates nothing that
// outlives the call.
inline target_info inspect_target(const std::string& path) {
    using kind = target_info::kind;
    target_info t;
    t.path = path;
    if (is_standard_output_name(path)) {
        t.how = kind::standard_output;
        t.resolved = path;
        return t;
    }
    if (path.empty()) throw io_error(path, "needs a file name");
    t.resolved = detail::follow_symlinks(path);
    struct stat st {};
    if (::stat(t.resolved.c_str(), &st) == 0) {
        t.exists = true;
        t.dev = st.st_dev;
        t.ino = st.st_ino;
        if (S_ISDIR(st.st_mode)) throw io_error(path, "is a directory");
        if (!S_ISREG(st.st_mode)) {
            t.how = kind::direct;
            return t;
        }
        if (!detail::may_write(t.resolved, st))
            throw io_error(path, "is read-only (mode " + detail::octal_mode(st.st_mode) + "); not replaced");
        t.mode = st.st_mode & 07777;
        t.how = st.st_nlink > 1 ? kind::copy_into : kind::replace;
    } else {
        const int err = errno;
        if (err != ENOENT) throw io_error(path, "cannot access: " + detail::error_text(err));
        const std::string dir = detail::parent_of(t.resolved);
        struct stat ds {};
        if (::stat(dir.c_str(), &ds) != 0 || !S_ISDIR(ds.st_mode))
            throw io_error(path, "directory '" + dir + "' does not exist");
        t.how = kind::create;
    }
    // The temporary file must be creatable beside the target: tried now, not
    // after the work (a read-only directory or file system, no permission).
    const std::string dir = detail::parent_of(t.resolved);
    std::string probe = (std::filesystem::path(dir) / ".clr-check.XXXXXX").string();
    std::vector<char> buf(probe.begin(), probe.end());
    buf.push_back('\0');
    int fd = -1;
    {
        const detail::signals_held hold;
        fd = ::mkstemp(buf.data());
        if (fd >= 0) ::unlink(buf.data());
    }
    if (fd < 0) {
        const int err = errno;
        throw io_error(path, "cannot create a file in " + dir + ": " + detail::error_text(err));
    }
    ::close(fd);
    return t;
}

// Whether two outputs would write the same file: the same name once symlinks,
// "." and ".." are resolved, or the same existing file (a hard link).
inline bool same_target(const target_info& a, const target_info& b) {
    if (a.how == target_info::kind::standard_output || b.how == target_info::kind::standard_output)
        return a.how == b.how;
    if (a.exists && b.exists && a.dev == b.dev && a.ino == b.ino) return true;
    std::error_code ea, eb;
    const auto ca = std::filesystem::weakly_canonical(std::filesystem::absolute(a.resolved, ea), ea);
    const auto cb = std::filesystem::weakly_canonical(std::filesystem::absolute(b.resolved, eb), eb);
    return !ea && !eb && ca == cb;
}

// A unique empty file for the content of `target`, removed again unless
// commit() puts it in place. For files another program writes (gnuplot's
// image). Beside the target when it is renamed over it; for a target that is
// written directly (a device, a FIFO, standard output) in TMPDIR, and copied
// there on commit.
class temp_file {
public:
    explicit temp_file(const std::string& target) : temp_file(inspect_target(target)) {}

    explicit temp_file(const target_info& info) : info_(info), target_(info.path) {
        namespace fs = std::filesystem;
        using kind = target_info::kind;
        const bool beside =
            info.how == kind::create || info.how == kind::replace || info.how == kind::copy_into;
        const fs::path t(info.resolved);
        std::error_code ec;
        const fs::path dir =
            beside ? fs::path(detail::parent_of(info.resolved)) : fs::temp_directory_path(ec);
        make(dir, "." + detail::temp_prefix(t.filename().string()) + ".XXXXXX");
        // mkstemp makes the file private (0600); the result should get the
        // mode of the file it replaces, or the permissions any new file would.
        if (info.how == kind::replace) {
            ::fchmod(fd_, info.mode);
        } else {
            const mode_t mask = ::umask(0);
            ::umask(mask);
            ::fchmod(fd_, 0666 & ~mask);
        }
    }

    // A scratch file in `dir`, never committed (a gnuplot script).
    struct scratch_tag {};
    temp_file(scratch_tag, const std::string& dir, const std::string& name) : target_(name) {
        make(dir, "." + detail::temp_prefix(name) + ".XXXXXX");
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
        using kind = target_info::kind;
        close_fd();
        if (info_.how == kind::create || info_.how == kind::replace) {
            if (::rename(path_.c_str(), info_.resolved.c_str()) != 0) {
                const int err = errno;
                throw io_error(target_, "cannot rename " + path_ + " into place: " + detail::error_text(err));
            }
            committed_ = true;
            return;
        }
        // Written into the existing file (every hard link sees it) or device.
        const int from = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
        if (from < 0) {
            const int err = errno;
            throw io_error(target_, "cannot reread " + path_ + ": " + detail::error_text(err));
        }
        int to = -1;
        if (info_.how == kind::standard_output) {
            std::fflush(stdout);
            to = ::dup(STDOUT_FILENO);
        } else {
            to = ::open(info_.resolved.c_str(),
                        O_WRONLY | O_NOCTTY | O_CLOEXEC | (info_.how == kind::copy_into ? O_TRUNC : 0));
        }
        if (to < 0) {
            const int err = errno;
            ::close(from);
            throw io_error(target_, "cannot open for writing: " + detail::error_text(err));
        }
        try {
            detail::copy_fd(from, to, target_);
        } catch (...) {
            ::close(from);
            ::close(to);
            throw;
        }
        ::close(from);
        if (::close(to) != 0) {
            const int err = errno;
            throw io_error(target_, "write failed: " + detail::error_text(err));
        }
        ::unlink(path_.c_str());
        committed_ = true;
    }

private:
    void make(const std::filesystem::path& dir, const std::string& name) {
        std::string pattern = (dir / name).string();
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
            throw io_error(target_, "cannot create a temporary file in " + dir.string() + ": " +
                                        detail::error_text(err));
        }
    }

    void close_fd() noexcept {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

    target_info info_;
    std::string target_;
    std::string path_;
    int fd_ = -1;
    int slot_ = -1;
    bool committed_ = false;
};

// A stdio stream onto a temp_file; or, for standard output and for a device,
// FIFO or socket, onto the target itself, which is then written as it goes.
class output_file {
public:
    explicit output_file(const std::string& target) : output_file(inspect_target(target)) {}

    explicit output_file(const target_info& info) : target_(info.path) {
        using kind = target_info::kind;
        if (info.how == kind::standard_output) {
            stream_ = stdout;
            return;
        }
        if (info.how == kind::direct) {
            direct_ = true;
            const int fd = ::open(info.resolved.c_str(), O_WRONLY | O_NOCTTY | O_CLOEXEC);
            if (fd < 0) {
                const int err = errno;
                throw io_error(target_, "cannot open for writing: " + detail::error_text(err));
            }
            open_stream(fd, info.path);
            return;
        }
        temp_.emplace(info);
        open_stream(temp_->release_fd(), temp_->path());
    }

    // A scratch file in `dir`, whose data is read by another program from
    // temp_path() and never committed (a gnuplot script).
    output_file(temp_file::scratch_tag tag, const std::string& dir, const std::string& name) : target_(name) {
        temp_.emplace(tag, dir, name);
        open_stream(temp_->release_fd(), temp_->path());
    }

    output_file(const output_file&) = delete;
    output_file& operator=(const output_file&) = delete;

    ~output_file() {
        if (stream_ != nullptr && stream_ != stdout) std::fclose(stream_);
    }

    std::FILE* stream() const noexcept { return stream_; }
    // Where the data is until commit(); empty when written directly.
    std::string temp_path() const { return temp_ ? temp_->path() : std::string(); }
    bool is_stdout() const noexcept { return !temp_.has_value() && !direct_; }

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
            throw io_error(shown,
                           std::string("write failed") + (err != 0 ? ": " + detail::error_text(err) : ""));
    }

    // finish(), then puts the file in place.
    void commit() {
        finish();
        if (temp_) temp_->commit();
    }

private:
    void open_stream(int fd, const std::string& shown) {
        stream_ = ::fdopen(fd, "w");
        if (stream_ == nullptr) {
            const int err = errno;
            ::close(fd);
            throw io_error(target_, "cannot open " + shown + ": " + detail::error_text(err));
        }
    }

    std::string target_;
    std::optional<temp_file> temp_;
    std::FILE* stream_ = nullptr;
    bool direct_ = false;
    bool finished_ = false;
};

}  // namespace example_io
