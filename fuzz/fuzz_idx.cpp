// Fuzz target for the MNIST example's IDX reader (examples/mnist_clr/idx.hpp):
// the input is written to a file, once under a plain name and once under a name
// ending in .gz, and read as images and as labels.
//
// The contract checked:
// - only mnist::data_error escapes, and it names the file it is about;
//   std::invalid_argument only for a bad argument (num_classes = 0), and then
//   always; anything else escapes and is reported (as are crashes, leaks and
//   hangs, by the sanitizers and libFuzzer's -timeout);
// - what a successful read returns is what the file holds: for an
//   uncompressed file, exactly the header's sizes and the bytes after it;
// - a well-formed uncompressed file is never refused.
#include "idx.hpp"

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>

namespace {

[[noreturn]] void violation(const char* what, const std::string& detail) {
    std::fprintf(stderr, "fuzz_idx: %s: %s\n", what, detail.c_str());
    std::fflush(stderr);
    std::abort();
}

// One directory per process for the two input files, removed at exit. In
// memory (/dev/shm) where there is one, unless TMPDIR says otherwise: thousands
// of files a second are written.
class scratch {
public:
    scratch() {
        std::error_code ec;
        std::filesystem::path base = std::filesystem::temp_directory_path(ec);
        if (std::getenv("TMPDIR") == nullptr && std::filesystem::is_directory("/dev/shm", ec) &&
            access("/dev/shm", W_OK) == 0)
            base = "/dev/shm";
        if (base.empty()) base = "/tmp";
        std::string tmpl = (base / "fuzz_idx.XXXXXX").string();
        if (mkdtemp(tmpl.data()) == nullptr) violation("setup", "cannot create a directory from " + tmpl);
        dir_ = tmpl;
    }
    scratch(const scratch&) = delete;
    scratch& operator=(const scratch&) = delete;
    ~scratch() {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }

    std::string write(const char* name, const std::uint8_t* data, std::size_t size) const {
        std::string path = (dir_ / name).string();
        // A new file rather than a truncated one: ext4 flushes a file that is
        // truncated and rewritten when it is closed, which costs milliseconds.
        std::remove(path.c_str());
        std::FILE* f = std::fopen(path.c_str(), "wb");
        if (f == nullptr) violation("setup", "cannot write " + path);
        const bool ok = std::fwrite(data, 1, size, f) == size;
        if (std::fclose(f) != 0 || !ok) violation("setup", "cannot write " + path);
        return path;
    }

private:
    std::filesystem::path dir_;
};

std::uint32_t be32(const std::uint8_t* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
           std::uint32_t{p[3]};
}

bool gzip_magic(const std::uint8_t* data, std::size_t size) {
    return size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
}

void check_error(const mnist::data_error& e, const std::string& path) {
    if (e.path() != path) violation("data_error names another file", "'" + e.path() + "' for " + path);
    const std::string prefix = "mnist: " + path + ": ";
    if (std::string(e.what()).rfind(prefix, 0) != 0) violation("data_error message", e.what());
}

// What an uncompressed input says it is: a complete, well-formed images file?
bool well_formed_images(const std::uint8_t* data, std::size_t size) {
    if (size < 16 || be32(data) != mnist::images_magic) return false;
    const std::uint64_t n = be32(data + 4), rows = be32(data + 8), cols = be32(data + 12);
    if (n != 0 && (rows == 0 || cols == 0)) return false;
    // n * rows * cols can wrap around 64 bits (to zero, even); divide instead.
    const std::uint64_t per_image = rows * cols;
    const std::uint64_t payload = size - 16;
    if (per_image == 0) return payload == 0;
    return payload % per_image == 0 && payload / per_image == n;
}

void read_images(const std::string& path, const std::uint8_t* data, std::size_t size, bool plain) {
    try {
        const mnist::images im = mnist::read_images(path);
        if (im.pixels.size() != im.count * im.rows * im.cols)
            violation("images size", std::to_string(im.pixels.size()) + " pixels for " +
                                         std::to_string(im.count) + " x " + std::to_string(im.rows) + " x " +
                                         std::to_string(im.cols));
        if (plain) {
            if (size != 16 + im.pixels.size() || be32(data + 4) != im.count || be32(data + 8) != im.rows ||
                be32(data + 12) != im.cols)
                violation("images header", "accepted a file that does not match its header");
            if (!im.pixels.empty() && std::memcmp(im.pixels.data(), data + 16, im.pixels.size()) != 0)
                violation("images data", "pixels differ from the file");
        }
    } catch (const mnist::data_error& e) {
        check_error(e, path);
        if (plain && well_formed_images(data, size)) violation("images refused", e.what());
    }
}

void read_labels(const std::string& path, const std::uint8_t* data, std::size_t size, bool plain,
                 unsigned classes) {
    try {
        const mnist::labels lb = mnist::read_labels(path, classes);
        for (const std::uint8_t v : lb.values)
            if (v >= classes) violation("label out of range accepted", std::to_string(v));
        if (plain) {
            if (size != 8 + lb.values.size() || be32(data + 4) != lb.count())
                violation("labels header", "accepted a file that does not match its header");
            if (!lb.values.empty() && std::memcmp(lb.values.data(), data + 8, lb.values.size()) != 0)
                violation("labels data", "labels differ from the file");
        }
    } catch (const mnist::data_error& e) {
        check_error(e, path);
        // Every byte is a valid label among 256 classes.
        if (plain && classes == 256 && size >= 8 && be32(data) == mnist::labels_magic &&
            size - 8 == be32(data + 4))
            violation("labels refused", e.what());
    }
}

void read_all(const std::string& path, const std::uint8_t* data, std::size_t size) {
    const bool plain = !gzip_magic(data, size);
    read_images(path, data, size, plain);
    read_labels(path, data, size, plain, 10);
    // Only where it can tell something: a header claiming more labels than the
    // input holds costs the reader megabytes of buffer before it finds out, and
    // the 10-class read above has already covered that path.
    if (plain && size >= 8 && size - 8 == be32(data + 4)) read_labels(path, data, size, plain, 256);
    try {
        (void)mnist::read_labels(path, 0);
        violation("num_classes = 0", "accepted");
    } catch (const std::invalid_argument&) {}
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const scratch dir;
    read_all(dir.write("input", data, size), data, size);
    read_all(dir.write("input.gz", data, size), data, size);
    return 0;
}
