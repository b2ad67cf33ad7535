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
// - a regular file with other hard links: by default (placement::update_links,
//   for logs and plots) staged in a temporary file, then copied into the file
//   itself on commit, so that every link sees it; with placement::rename (for
//   checkpoints) never written in place: a temporary file, flushed to disk,
//   renamed over the name, and the other links keep the old content;
// - a device, a FIFO, a socket, "-" or /dev/stdout: written directly, since
//   a rename would replace the device with a plain file;
// - a directory, or an existing file the user may not write, is refused.
//
// A process killed outright (kill -9, a crash) cannot remove its temporary
// files. Each is named ".<target's name>.clr-tmp-<host>.XXXXXX" and locked
// (flock) by its writer for as long as it exists, and the kernel drops the
// lock when the writer dies, however it dies; whenever a temporary file is
// made, those of the same user and host in that directory that nobody holds
// locked are removed (see remove_stale_temps).
//
// POSIX only (mkstemp, rename, flock, signal handlers), as are the examples.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
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

// How an existing regular file with other hard links is written.
enum class placement {
    // Into the file itself, staged first and copied in on commit, so that
    // every link sees the new content: logs and plots, which a user may have
    // linked elsewhere to follow.
    update_links,
    // Never in place: a temporary file beside the target, flushed to disk
    // (fflush, fsync) and renamed over the name, whatever links the old file
    // has; the other links keep the old content. A kill or a crash at any
    // point leaves the old file or the new one, whole. For checkpoints.
    rename,
};

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
    placement place = placement::update_links;
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

// What every temporary name made on this host carries before mkstemp's 6
// characters, ".clr-tmp-" and 8 hex digits of the host's name (FNV-1a), so
// that one left behind can be told from the user's own files, and from those
// of another host sharing the directory, whose locks a network file system
// may not show here (NFS mounted with local_lock or nolock).
inline const std::string& temp_marker() {
    static const std::string marker = [] {
        char host[256] = {};
        ::gethostname(host, sizeof host - 1);
        std::uint32_t h = 2166136261u;
        for (const char* c = host; *c != '\0'; ++c) h = (h ^ static_cast<unsigned char>(*c)) * 16777619u;
        char text[32];
        std::snprintf(text, sizeof text, ".clr-tmp-%08x.", static_cast<unsigned>(h));
        return std::string(text);
    }();
    return marker;
}

// The mkstemp pattern of a temporary file for `name`: 225 bytes at most.
inline std::string temp_pattern(const std::string& name) {
    return "." + temp_prefix(name) + temp_marker() + "XXXXXX";
}

// Whether `name` is one of temp_pattern's names, made on this host.
inline bool is_temp_name(const std::string& name) {
    const std::string& marker = temp_marker();
    return name.size() >= 2 + marker.size() + 6 && name[0] == '.' &&
           name.compare(name.size() - 6 - marker.size(), marker.size(), marker) == 0;
}

// A temporary file is locked by its writer from the moment after mkstemp
// made it; one modified in the last few seconds is spared, so that a cleaner
// never takes a file in that moment (nor misjudges a clock that runs a little
// apart, on a network file system).
inline constexpr std::time_t stale_after_seconds = 10;

// Removes the temporary files in `dir` left by writers that died (kill -9, a
// crash, a power cut): those of this user and host, named as temp_pattern
// names them, that no process holds locked and that have not changed for
// stale_after_seconds. The kernel drops a lock however its holder dies, and
// a lock, unlike a pid, is never reused by another program nor seen
// differently from another pid namespace. Best effort: anything that cannot
// be checked is left. That includes every file on NFS, whose emulated flock
// takes an exclusive lock only through a descriptor open for writing, which
// this one is not: a file there is never taken from a live writer.
inline void remove_stale_temps(const std::string& dir) {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return;
    const std::time_t now = std::time(nullptr);
    while (const dirent* e = ::readdir(d)) {
        if (!is_temp_name(e->d_name)) continue;
        // Not a FIFO's open that waits, nor a symlink's target.
        const int fd =
            ::openat(::dirfd(d), e->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd < 0) continue;
        struct stat st {};
        if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == ::geteuid() &&
            now - st.st_mtime >= stale_after_seconds && ::flock(fd, LOCK_EX | LOCK_NB) == 0)
            ::unlinkat(::dirfd(d), e->d_name, 0);
        ::close(fd);
    }
    ::closedir(d);
}

// Makes a rename in `dir` durable. Best effort: some file systems refuse to
// sync a directory (EINVAL), and the file is in place whatever this says.
inline void sync_directory(const std::string& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    ::fsync(fd);
    ::close(fd);
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
// outlives the call. `place` says how a file with other hard links is written.
inline target_info inspect_target(const std::string& path, placement place = placement::update_links) {
    using kind = target_info::kind;
    target_info t;
    t.path = path;
    t.place = place;
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
        t.how = st.st_nlink > 1 && place == placement::update_links ? kind::copy_into : kind::replace;
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
    std::string probe = (std::filesystem::path(dir) / detail::temp_pattern("clr-check")).string();
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
        make(dir, detail::temp_pattern(t.filename().string()));
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
        make(dir, detail::temp_pattern(name));
    }

    temp_file(const temp_file&) = delete;
    temp_file& operator=(const temp_file&) = delete;

    ~temp_file() {
        close_fd();
        if (!committed_) ::unlink(path_.c_str());
        release_lock();
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
        if (info_.how == kind::create || info_.how == kind::replace) {
            if (info_.place == placement::rename) sync_contents();
            close_fd();
            if (::rename(path_.c_str(), info_.resolved.c_str()) != 0) {
                const int err = errno;
                throw io_error(target_, "cannot rename " + path_ + " into place: " + detail::error_text(err));
            }
            committed_ = true;
            release_lock();
            if (info_.place == placement::rename) detail::sync_directory(detail::parent_of(info_.resolved));
            return;
        }
        close_fd();
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
        release_lock();
    }

private:
    void make(const std::filesystem::path& dir, const std::string& name) {
        detail::remove_stale_temps(dir.string());
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
        // The lock tells remove_stale_temps (of this process or another) that
        // the file is in use. It belongs to the open file, which a copy of
        // the descriptor keeps open until the file is renamed or removed,
        // whoever closes fd_ meanwhile (the stream of an output_file). Where
        // the file system has no locks, nothing is locked, and nothing there
        // is ever found stale either.
        if (::flock(fd_, LOCK_EX | LOCK_NB) == 0) lock_fd_ = ::fcntl(fd_, F_DUPFD_CLOEXEC, 0);
    }

    void close_fd() noexcept {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

    void release_lock() noexcept {
        if (lock_fd_ >= 0) ::close(lock_fd_);
        lock_fd_ = -1;
    }

    // The data on disk before the name points at it, so that after a crash
    // the name holds the old file or the new one, whole. Any descriptor of
    // the file will do; the stream that wrote it has been flushed and closed.
    void sync_contents() {
        int fd = fd_ >= 0 ? fd_ : lock_fd_;
        int opened = -1;
        if (fd < 0) fd = opened = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
        const bool ok = fd >= 0 && ::fsync(fd) == 0;
        const int err = errno;
        if (opened >= 0) ::close(opened);
        if (!ok) throw io_error(target_, "cannot flush " + path_ + " to disk: " + detail::error_text(err));
    }

    target_info info_;
    std::string target_;
    std::string path_;
    int fd_ = -1;
    int lock_fd_ = -1;  // a copy of fd_ that holds the lock (see make)
    int slot_ = -1;
    bool committed_ = false;
};

// A stdio stream onto a temp_file; or, for standard output and for a device,
// FIFO or socket, onto the target itself, which is then written as it goes.
class output_file {
public:
    explicit output_file(const std::string& target, placement place = placement::update_links)
        : output_file(inspect_target(target, place)) {}

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
