// Reader for the IDX format used by MNIST (and by any data set laid out the
// same way): big-endian header, then unsigned bytes. Files may be plain or
// gzip-compressed (zlib's inflate); only regular files are read. POSIX only.
//
// Every problem with a file surfaces as mnist::data_error naming the file and
// what is wrong. Sizes from a header are checked before anything large is
// allocated, and data is read in bounded chunks, so a corrupt header can only
// produce an error, never a huge allocation or a long wait.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace mnist {

class data_error : public std::runtime_error {
public:
    data_error(const std::string& path, const std::string& problem)
        : std::runtime_error("mnist: " + path + ": " + problem),
          path_(path) {}

    const std::string& path() const noexcept { return path_; }

private:
    std::string path_;
};

struct images {
    std::size_t count = 0;
    std::size_t rows = 0;
    std::size_t cols = 0;
    std::vector<std::uint8_t> pixels;  // row-major, count * rows * cols

    std::size_t image_size() const noexcept { return rows * cols; }
    const std::uint8_t* image(std::size_t i) const noexcept { return pixels.data() + i * image_size(); }
};

struct labels {
    std::vector<std::uint8_t> values;

    std::size_t count() const noexcept { return values.size(); }
};

struct dataset {
    images train_images;
    labels train_labels;
    images test_images;
    labels test_labels;
};

inline constexpr std::uint32_t images_magic = 0x00000803;  // ubyte, 3 dims
inline constexpr std::uint32_t labels_magic = 0x00000801;  // ubyte, 1 dim
// Far above any real data set of this kind; anything larger is taken as a
// corrupt header rather than something worth trying to allocate.
inline constexpr std::uint64_t max_data_bytes = std::uint64_t{1} << 31;

// "0x1b2c3d4e", as the messages (and mnist_clr's checkpoints) write a
// magic number or a checksum.
inline std::string hex32(std::uint32_t v) {
    static const char digits[] = "0123456789abcdef";
    std::string s = "0x00000000";
    for (int i = 9; i >= 2; --i, v >>= 4) s[static_cast<std::size_t>(i)] = digits[v & 0xF];
    return s;
}

namespace detail {

inline std::uint32_t be32(const unsigned char* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
           std::uint32_t{p[3]};
}

inline std::string file_kind(mode_t mode) {
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    return "not a regular file";
}

// Reads a regular file (a symlink is followed to one), plain or gzip: one or
// more gzip members, each checked against its CRC-32 and length as `gzip -t`
// does, and nothing after the last one. Anything else (a FIFO, a device) is
// refused before a byte is read, and no more raw bytes are ever read than the
// file held when it was opened, so no input can make a read hang or run on.
// zlib errors become data_error.
class gz_reader {
public:
    explicit gz_reader(const std::string& path) : path_(path), in_(std::size_t{1} << 17) {
        // O_NONBLOCK: opening a FIFO without a writer must not wait for one.
        fd_ = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd_ < 0) {
            const int e = errno;
            throw data_error(path_, std::string("cannot open: ") + std::strerror(e));
        }
        try {
            struct stat st {};
            if (::fstat(fd_, &st) != 0) {
                const int e = errno;
                throw data_error(path_, std::string("cannot open: ") + std::strerror(e));
            }
            if (S_ISDIR(st.st_mode)) throw data_error(path_, "is a directory, not an IDX file");
            if (!S_ISREG(st.st_mode))
                throw data_error(path_, "is " + file_kind(st.st_mode) +
                                            ", not a regular file; only regular files "
                                            "are read");
            const int flags = ::fcntl(fd_, F_GETFL);
            if (flags >= 0) ::fcntl(fd_, F_SETFL, flags & ~O_NONBLOCK);
            raw_left_ = static_cast<std::uint64_t>(st.st_size);
            if (available(2) >= 2 && in_[pos_] == 0x1f && in_[pos_ + 1] == 0x8b) {
                if (inflateInit2(&z_, 15 + 16) != Z_OK) throw data_error(path_, "out of memory");
                gzip_ = true;
            }
        } catch (...) {
            ::close(fd_);
            throw;
        }
    }
    gz_reader(const gz_reader&) = delete;
    gz_reader& operator=(const gz_reader&) = delete;
    ~gz_reader() {
        if (gzip_) inflateEnd(&z_);
        ::close(fd_);
    }

    // Reads up to n bytes; fewer only at end of input. Throws on a corrupt
    // stream, data after the last gzip member, or an I/O error.
    std::size_t read_up_to(unsigned char* buf, std::size_t n) {
        return gzip_ ? inflate_up_to(buf, n) : copy_up_to(buf, n);
    }

    // Counts what is left, up to `cap` bytes (more is reported as cap + 1),
    // without keeping it.
    std::uint64_t count_rest(std::uint64_t cap) {
        if (!gzip_) {
            const std::uint64_t left = (len_ - pos_) + raw_left_;
            return std::min(left, cap + 1);
        }
        unsigned char scratch[4096];
        std::uint64_t extra = 0;
        while (extra <= cap) {
            const std::size_t r = read_up_to(scratch, sizeof scratch);
            extra += r;
            if (r < sizeof scratch) break;
        }
        return extra;
    }

    // A gzip stream that stops mid-way reads as a short file; this says so,
    // so that the message can say the compressed data was cut.
    bool compressed_stream_cut() const noexcept { return cut_; }

    const std::string& path() const noexcept { return path_; }

private:
    // Makes at least `want` unread bytes available if the file has them;
    // returns how many are.
    std::size_t available(std::size_t want) {
        while (len_ - pos_ < want && raw_left_ > 0) {
            if (pos_ > 0) {
                std::memmove(in_.data(), in_.data() + pos_, len_ - pos_);
                len_ -= pos_;
                pos_ = 0;
            }
            const std::size_t room = std::min<std::uint64_t>(in_.size() - len_, raw_left_);
            ssize_t r = 0;
            do {
                r = ::read(fd_, in_.data() + len_, room);
            } while (r < 0 && errno == EINTR);
            if (r < 0) {
                const int e = errno;
                throw data_error(path_, std::string("read error: ") + std::strerror(e));
            }
            if (r == 0) {
                raw_left_ = 0;  // the file shrank since it was opened
                break;
            }
            len_ += static_cast<std::size_t>(r);
            raw_left_ -= static_cast<std::uint64_t>(r);
        }
        return len_ - pos_;
    }

    std::size_t copy_up_to(unsigned char* buf, std::size_t n) {
        std::size_t got = 0;
        while (got < n && available(1) > 0) {
            const std::size_t k = std::min(n - got, len_ - pos_);
            std::memcpy(buf + got, in_.data() + pos_, k);
            pos_ += k;
            got += k;
        }
        return got;
    }

    std::size_t inflate_up_to(unsigned char* buf, std::size_t n) {
        std::size_t got = 0;
        while (got < n) {
            if (member_done_) {
                // Another member, or the end of the file. Anything else is
                // what gzip -t calls trailing garbage, and is refused.
                const std::size_t left = available(2);
                if (left == 0) break;
                if (left < 2 || in_[pos_] != 0x1f || in_[pos_ + 1] != 0x8b) {
                    const std::uint64_t rest = (len_ - pos_) + raw_left_;
                    throw data_error(path_, "trailing garbage: " + std::to_string(rest) +
                                                " bytes after the end of the gzip data");
                }
                if (inflateReset(&z_) != Z_OK) throw data_error(path_, "corrupt gzip stream: cannot reset");
                member_done_ = false;
            }
            // With no input left inflate may still hold output back; only
            // when it makes no progress has the file ended inside a member.
            const bool input_left = available(1) > 0;
            z_.next_in = in_.data() + pos_;
            z_.avail_in = static_cast<uInt>(len_ - pos_);
            z_.next_out = buf + got;
            z_.avail_out = static_cast<uInt>(std::min<std::size_t>(n - got, 1u << 30));
            const int rc = inflate(&z_, Z_NO_FLUSH);
            pos_ = len_ - z_.avail_in;
            got = static_cast<std::size_t>(z_.next_out - buf);
            if (rc == Z_STREAM_END) {
                member_done_ = true;
            } else if (rc == Z_BUF_ERROR && !input_left) {
                cut_ = true;
                break;
            } else if (rc == Z_BUF_ERROR) {
                throw data_error(path_, "corrupt gzip stream: no progress");
            } else if (rc == Z_MEM_ERROR) {
                throw data_error(path_, "out of memory while decompressing");
            } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
                throw data_error(path_, std::string("corrupt gzip stream: ") +
                                            (z_.msg != nullptr ? z_.msg : "invalid compressed data"));
            }
        }
        return got;
    }

    std::string path_;
    int fd_ = -1;
    std::vector<unsigned char> in_;
    std::size_t pos_ = 0;         // next unread byte of in_
    std::size_t len_ = 0;         // bytes of in_ filled
    std::uint64_t raw_left_ = 0;  // bytes of the file not yet read into in_
    bool gzip_ = false;
    bool member_done_ = false;
    bool cut_ = false;
    z_stream z_{};
};

inline std::string truncation_note(const gz_reader& in) {
    return in.compressed_stream_cut() ? " (compressed stream ends early)" : "";
}

inline std::vector<std::uint32_t> read_header(gz_reader& in, std::uint32_t magic, std::size_t dims,
                                              const char* kind) {
    const std::size_t header_bytes = 4 * (1 + dims);
    unsigned char buf[16] = {};
    const std::size_t got = in.read_up_to(buf, header_bytes);
    if (got >= 4 && be32(buf) != magic) {
        std::string hint;
        if (be32(buf) == images_magic) hint = " (this is an image file)";
        if (be32(buf) == labels_magic) hint = " (this is a label file)";
        throw data_error(in.path(), std::string("wrong magic number for an IDX ") + kind +
                                        " file: expected " + hex32(magic) + ", found " + hex32(be32(buf)) +
                                        hint);
    }
    if (got < header_bytes)
        throw data_error(in.path(), "truncated header: expected " + std::to_string(header_bytes) +
                                        " bytes, found " + std::to_string(got) + truncation_note(in));
    std::vector<std::uint32_t> out(dims);
    for (std::size_t i = 0; i < dims; ++i) out[i] = be32(buf + 4 * (i + 1));
    return out;
}

// Reads exactly `bytes` of payload, growing the buffer as data actually
// arrives, then insists the input ends there.
inline std::vector<std::uint8_t> read_payload(gz_reader& in, std::uint64_t bytes, const char* what) {
    constexpr std::size_t step = std::size_t{1} << 22;
    const auto total = static_cast<std::size_t>(bytes);
    std::vector<std::uint8_t> data;
    data.reserve(std::min(total, std::size_t{64} << 20));
    std::size_t got = 0;
    while (got < total) {
        const std::size_t n = std::min(step, total - got);
        data.resize(got + n);
        const std::size_t r = in.read_up_to(data.data() + got, n);
        got += r;
        if (r < n)
            throw data_error(in.path(), std::string("truncated data: expected ") + std::to_string(total) +
                                            " bytes of " + what + ", found " + std::to_string(got) +
                                            truncation_note(in));
    }
    // Counted up to a bound: the data after a gzip header's sizes can be a
    // decompression bomb.
    const std::uint64_t extra = in.count_rest(max_data_bytes);
    if (extra > max_data_bytes)
        throw data_error(in.path(), "trailing garbage: more than " + std::to_string(max_data_bytes) +
                                        " bytes after the " + std::to_string(total) + " bytes of " + what +
                                        " the header declares");
    if (extra != 0)
        throw data_error(in.path(), "trailing garbage: " + std::to_string(extra) + " bytes after the " +
                                        std::to_string(total) + " bytes of " + what + " the header declares");
    // All data arrived but the gzip trailer (CRC and length) did not, so the
    // file cannot be trusted to be what was written.
    if (in.compressed_stream_cut())
        throw data_error(in.path(),
                         "corrupt gzip stream: compressed data ends early, "
                         "before the gzip trailer");
    return data;
}

}  // namespace detail

inline images read_images(const std::string& path) {
    detail::gz_reader in(path);
    const auto dims = detail::read_header(in, images_magic, 3, "image");
    const std::uint64_t count = dims[0], rows = dims[1], cols = dims[2];
    const std::string shape =
        std::to_string(count) + " x " + std::to_string(rows) + " x " + std::to_string(cols);
    if (count != 0 && (rows == 0 || cols == 0))
        throw data_error(path, "header declares images of zero size (" + shape + ")");
    // rows * cols cannot overflow 64 bits; the division guards the third factor.
    const std::uint64_t per_image = rows * cols;
    if (per_image != 0 && count > std::numeric_limits<std::uint64_t>::max() / per_image)
        throw data_error(path, "header dimensions " + shape + " overflow a 64-bit byte count");
    const std::uint64_t bytes = count * per_image;
    if (bytes > max_data_bytes)
        throw data_error(path, "header dimensions " + shape + " claim " + std::to_string(bytes) +
                                   " bytes, more than the " + std::to_string(max_data_bytes) + "-byte limit");
    images out;
    out.count = static_cast<std::size_t>(count);
    out.rows = static_cast<std::size_t>(rows);
    out.cols = static_cast<std::size_t>(cols);
    out.pixels = detail::read_payload(in, bytes, "pixel data");
    return out;
}

inline labels read_labels(const std::string& path, unsigned num_classes = 10) {
    if (num_classes == 0) throw std::invalid_argument("mnist::read_labels: num_classes must be at least 1");
    detail::gz_reader in(path);
    const auto dims = detail::read_header(in, labels_magic, 1, "label");
    const std::uint64_t count = dims[0];
    if (count > max_data_bytes)
        throw data_error(path, "header claims " + std::to_string(count) + " labels, more than the " +
                                   std::to_string(max_data_bytes) + "-byte limit");
    labels out;
    out.values = detail::read_payload(in, count, "labels");
    for (std::size_t i = 0; i < out.values.size(); ++i)
        if (out.values[i] >= num_classes)
            throw data_error(path, "label out of range at index " + std::to_string(i) + ": value " +
                                       std::to_string(out.values[i]) + ", expected < " +
                                       std::to_string(num_classes));
    return out;
}

namespace detail {

// 0 when `path` can be stat()ed (following symlinks), else the errno.
inline int stat_error(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? 0 : errno;
}

// Only a name that does not exist is "missing"; any other reason it cannot be
// reached (no permission, a symlink loop, a path component that is a file)
// is named as it is.
inline std::string find_idx_file(const std::filesystem::path& dir, const std::string& name) {
    const std::filesystem::path plain = dir / name;
    const std::filesystem::path gz = dir / (name + ".gz");
    for (const auto& p : {plain, gz}) {
        const int e = stat_error(p.string());
        if (e == 0) return p.string();
        if (e != ENOENT) throw data_error(p.string(), std::string("cannot access: ") + std::strerror(e));
    }
    throw data_error(dir.string(), "missing " + name + ": tried '" + plain.string() + "' and '" +
                                       gz.string() + "' (run scripts/fetch_mnist.sh to download MNIST)");
}

inline void check_counts(const std::string& images_path, const images& im, const std::string& labels_path,
                         const labels& lb) {
    if (im.count != lb.count())
        throw data_error(labels_path, "image and label counts differ: " + std::to_string(lb.count()) +
                                          " labels but '" + images_path + "' has " +
                                          std::to_string(im.count) + " images");
}

}  // namespace detail

// Refuses a data directory that does not exist (with the fetch hint), cannot
// be reached (naming the errno: no permission, a path component that is a
// file, ...) or is not a directory.
inline void check_data_dir(const std::string& dir) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) {
        const int e = errno;
        if (e == ENOENT)
            throw data_error(dir,
                             "directory does not exist; run scripts/fetch_mnist.sh to "
                             "download MNIST into data/mnist");
        throw data_error(dir, std::string("cannot access the directory: ") + std::strerror(e));
    }
    if (!S_ISDIR(st.st_mode)) throw data_error(dir, "is not a directory");
}

// The four standard files' names: training images and labels, test images
// and labels.
inline constexpr const char* file_names[] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};

// Loads the four standard files from dir, each plain or with a ".gz" suffix
// (the plain one wins if both exist).
inline dataset load_dataset(const std::string& dir, unsigned num_classes = 10) {
    check_data_dir(dir);
    const std::filesystem::path root(dir);

    const std::string train_images = detail::find_idx_file(root, file_names[0]);
    const std::string train_labels = detail::find_idx_file(root, file_names[1]);
    const std::string test_images = detail::find_idx_file(root, file_names[2]);
    const std::string test_labels = detail::find_idx_file(root, file_names[3]);

    dataset d;
    d.train_images = read_images(train_images);
    d.train_labels = read_labels(train_labels, num_classes);
    d.test_images = read_images(test_images);
    d.test_labels = read_labels(test_labels, num_classes);

    detail::check_counts(train_images, d.train_images, train_labels, d.train_labels);
    detail::check_counts(test_images, d.test_images, test_labels, d.test_labels);
    if (d.train_images.count == 0)
        throw data_error(train_images, "holds no images; cannot train on an empty set");
    if (d.test_images.count == 0)
        throw data_error(test_images, "holds no images; cannot evaluate on an empty set");
    if (d.test_images.rows != d.train_images.rows || d.test_images.cols != d.train_images.cols)
        throw data_error(test_images, "image size " + std::to_string(d.test_images.rows) + "x" +
                                          std::to_string(d.test_images.cols) + " differs from the " +
                                          std::to_string(d.train_images.rows) + "x" +
                                          std::to_string(d.train_images.cols) + " of '" + train_images + "'");
    return d;
}

}  // namespace mnist
