// Reader for the IDX format used by MNIST (and by any data set laid out the
// same way): big-endian header, then unsigned bytes. Files may be plain or
// gzip-compressed; zlib's gz* functions read both transparently.
//
// Every problem with a file surfaces as mnist::data_error naming the file and
// what is wrong. Sizes from a header are checked before anything large is
// allocated, and data is read in bounded chunks, so a corrupt header can only
// produce an error, never a huge allocation or a long wait.
#pragma once

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
        : std::runtime_error("mnist: " + path + ": " + problem), path_(path) {}

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
    const std::uint8_t* image(std::size_t i) const noexcept {
        return pixels.data() + i * image_size();
    }
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

namespace detail {

inline std::string hex32(std::uint32_t v) {
    static const char digits[] = "0123456789abcdef";
    std::string s = "0x00000000";
    for (int i = 9; i >= 2; --i, v >>= 4) s[static_cast<std::size_t>(i)] = digits[v & 0xF];
    return s;
}

inline std::uint32_t be32(const unsigned char* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) |
           (std::uint32_t{p[2]} << 8) | std::uint32_t{p[3]};
}

// Owns a gzFile and turns zlib's error conventions into data_error.
class gz_reader {
public:
    explicit gz_reader(const std::string& path) : path_(path) {
        std::error_code ec;
        if (std::filesystem::is_directory(path, ec))
            throw data_error(path_, "is a directory, not an IDX file");
        errno = 0;
        file_ = gzopen(path.c_str(), "rb");
        if (file_ == nullptr) {
            const int e = errno;
            throw data_error(path_, std::string("cannot open: ") +
                                        (e != 0 ? std::strerror(e) : "out of memory"));
        }
        gzbuffer(file_, 1u << 17);
    }
    gz_reader(const gz_reader&) = delete;
    gz_reader& operator=(const gz_reader&) = delete;
    ~gz_reader() {
        if (file_ != nullptr) gzclose_r(file_);
    }

    // Reads up to n bytes; fewer only at end of input. Throws on a corrupt
    // stream or an I/O error.
    std::size_t read_up_to(unsigned char* buf, std::size_t n) {
        constexpr std::size_t chunk = std::size_t{1} << 20;
        std::size_t got = 0;
        while (got < n) {
            const auto want = static_cast<unsigned>(std::min(chunk, n - got));
            const int r = gzread(file_, buf + got, want);
            if (r < 0) throw_stream_error();
            if (r == 0) break;
            got += static_cast<std::size_t>(r);
        }
        // gzread may return a partial count before reporting an error, so
        // the error state is checked separately after a short read.
        if (got < n && stream_state() != Z_OK && stream_state() != Z_BUF_ERROR)
            throw_stream_error();
        return got;
    }

    // A gzip stream that stops mid-way reads as a short file; zlib flags it
    // with Z_BUF_ERROR so the message can say the compressed data was cut.
    bool compressed_stream_cut() const { return stream_state() == Z_BUF_ERROR; }

    const std::string& path() const noexcept { return path_; }

private:
    int stream_state() const {
        int err = Z_OK;
        gzerror(file_, &err);
        return err;
    }

    [[noreturn]] void throw_stream_error() const {
        int err = Z_OK;
        std::string msg = gzerror(file_, &err);
        // zlib prefixes its message with the path, which data_error already adds.
        const std::string prefix = path_ + ": ";
        if (msg.compare(0, prefix.size(), prefix) == 0) msg.erase(0, prefix.size());
        if (err == Z_ERRNO) throw data_error(path_, "read error: " + msg);
        throw data_error(path_, "corrupt gzip stream: " + msg);
    }

    std::string path_;
    gzFile file_ = nullptr;
};

inline std::string truncation_note(const gz_reader& in) {
    return in.compressed_stream_cut() ? " (compressed stream ends early)" : "";
}

inline std::vector<std::uint32_t> read_header(gz_reader& in, std::uint32_t magic,
                                              std::size_t dims, const char* kind) {
    const std::size_t header_bytes = 4 * (1 + dims);
    unsigned char buf[16] = {};
    const std::size_t got = in.read_up_to(buf, header_bytes);
    if (got >= 4 && be32(buf) != magic) {
        std::string hint;
        if (be32(buf) == images_magic) hint = " (this is an image file)";
        if (be32(buf) == labels_magic) hint = " (this is a label file)";
        throw data_error(in.path(), std::string("wrong magic number for an IDX ") + kind +
                                        " file: expected " + hex32(magic) + ", found " +
                                        hex32(be32(buf)) + hint);
    }
    if (got < header_bytes)
        throw data_error(in.path(), "truncated header: expected " +
                                        std::to_string(header_bytes) + " bytes, found " +
                                        std::to_string(got) + truncation_note(in));
    std::vector<std::uint32_t> out(dims);
    for (std::size_t i = 0; i < dims; ++i) out[i] = be32(buf + 4 * (i + 1));
    return out;
}

// Reads exactly `bytes` of payload, growing the buffer as data actually
// arrives, then insists the input ends there.
inline std::vector<std::uint8_t> read_payload(gz_reader& in, std::uint64_t bytes,
                                              const char* what) {
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
            throw data_error(in.path(), std::string("truncated data: expected ") +
                                            std::to_string(total) + " bytes of " + what +
                                            ", found " + std::to_string(got) +
                                            truncation_note(in));
    }
    unsigned char scratch[4096];
    std::uint64_t extra = 0;
    for (;;) {
        const std::size_t r = in.read_up_to(scratch, sizeof scratch);
        extra += r;
        if (r < sizeof scratch) break;
    }
    if (extra != 0)
        throw data_error(in.path(), "trailing garbage: " + std::to_string(extra) +
                                        " bytes after the " + std::to_string(total) +
                                        " bytes of " + what + " the header declares");
    // All data arrived but the gzip trailer (CRC and length) did not, so the
    // file cannot be trusted to be what was written.
    if (in.compressed_stream_cut())
        throw data_error(in.path(), "corrupt gzip stream: compressed data ends early, "
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
        throw data_error(path, "header dimensions " + shape + " claim " +
                                   std::to_string(bytes) + " bytes, more than the " +
                                   std::to_string(max_data_bytes) + "-byte limit");
    images out;
    out.count = static_cast<std::size_t>(count);
    out.rows = static_cast<std::size_t>(rows);
    out.cols = static_cast<std::size_t>(cols);
    out.pixels = detail::read_payload(in, bytes, "pixel data");
    return out;
}

inline labels read_labels(const std::string& path, unsigned num_classes = 10) {
    if (num_classes == 0)
        throw std::invalid_argument("mnist::read_labels: num_classes must be at least 1");
    detail::gz_reader in(path);
    const auto dims = detail::read_header(in, labels_magic, 1, "label");
    const std::uint64_t count = dims[0];
    if (count > max_data_bytes)
        throw data_error(path, "header claims " + std::to_string(count) +
                                   " labels, more than the " +
                                   std::to_string(max_data_bytes) + "-byte limit");
    labels out;
    out.values = detail::read_payload(in, count, "labels");
    for (std::size_t i = 0; i < out.values.size(); ++i)
        if (out.values[i] >= num_classes)
            throw data_error(path, "label out of range at index " + std::to_string(i) +
                                       ": value " + std::to_string(out.values[i]) +
                                       ", expected < " + std::to_string(num_classes));
    return out;
}

namespace detail {

inline std::string find_idx_file(const std::filesystem::path& dir, const std::string& name) {
    const std::filesystem::path plain = dir / name;
    const std::filesystem::path gz = dir / (name + ".gz");
    std::error_code ec;
    if (std::filesystem::exists(plain, ec)) return plain.string();
    if (std::filesystem::exists(gz, ec)) return gz.string();
    throw data_error(dir.string(), "missing " + name + ": tried '" + plain.string() +
                                       "' and '" + gz.string() +
                                       "' (run scripts/fetch_mnist.sh to download MNIST)");
}

inline void check_counts(const std::string& images_path, const images& im,
                         const std::string& labels_path, const labels& lb) {
    if (im.count != lb.count())
        throw data_error(labels_path, "image and label counts differ: " +
                                          std::to_string(lb.count()) + " labels but '" +
                                          images_path + "' has " + std::to_string(im.count) +
                                          " images");
}

}  // namespace detail

// Loads the four standard files from dir, each plain or with a ".gz" suffix
// (the plain one wins if both exist).
inline dataset load_dataset(const std::string& dir, unsigned num_classes = 10) {
    std::error_code ec;
    const std::filesystem::path root(dir);
    if (!std::filesystem::exists(root, ec))
        throw data_error(dir, "directory does not exist; run scripts/fetch_mnist.sh to "
                              "download MNIST into data/mnist");
    if (!std::filesystem::is_directory(root, ec))
        throw data_error(dir, "is not a directory");

    const std::string train_images = detail::find_idx_file(root, "train-images-idx3-ubyte");
    const std::string train_labels = detail::find_idx_file(root, "train-labels-idx1-ubyte");
    const std::string test_images = detail::find_idx_file(root, "t10k-images-idx3-ubyte");
    const std::string test_labels = detail::find_idx_file(root, "t10k-labels-idx1-ubyte");

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
        throw data_error(test_images,
                         "image size " + std::to_string(d.test_images.rows) + "x" +
                             std::to_string(d.test_images.cols) + " differs from the " +
                             std::to_string(d.train_images.rows) + "x" +
                             std::to_string(d.train_images.cols) + " of '" + train_images +
                             "'");
    return d;
}

}  // namespace mnist
