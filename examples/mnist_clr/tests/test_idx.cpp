#include "idx.hpp"
#include "mnist_files.hpp"

#include <sys/stat.h>
#include <zlib.h>
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using bytes = std::vector<std::uint8_t>;
using Catch::Contains;

namespace {

// A fresh directory per test so that tests never see each other's files.
class temp_dir {
public:
    temp_dir() {
        std::string tmpl = (fs::temp_directory_path() / "idx_test_XXXXXX").string();
        if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path_ = tmpl;
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    ~temp_dir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    std::string file(const std::string& name) const { return (path_ / name).string(); }
    std::string str() const { return path_.string(); }

private:
    fs::path path_;
};

void put_be32(bytes& b, std::uint32_t v) {
    b.push_back(static_cast<std::uint8_t>(v >> 24));
    b.push_back(static_cast<std::uint8_t>(v >> 16));
    b.push_back(static_cast<std::uint8_t>(v >> 8));
    b.push_back(static_cast<std::uint8_t>(v));
}

bytes idx3(std::uint32_t count, std::uint32_t rows, std::uint32_t cols, const bytes& pixels) {
    bytes b;
    put_be32(b, 0x00000803);
    put_be32(b, count);
    put_be32(b, rows);
    put_be32(b, cols);
    b.insert(b.end(), pixels.begin(), pixels.end());
    return b;
}

bytes idx1(const bytes& values) {
    bytes b;
    put_be32(b, 0x00000801);
    put_be32(b, static_cast<std::uint32_t>(values.size()));
    b.insert(b.end(), values.begin(), values.end());
    return b;
}

// Pseudo-random bytes so that gzip cannot shrink them much and a cut in the
// compressed file lands inside the pixel data.
bytes noise(std::size_t n, std::uint32_t seed = 12345) {
    bytes b(n);
    std::uint32_t s = seed;
    for (auto& x : b) {
        s = s * 1664525u + 1013904223u;
        x = static_cast<std::uint8_t>(s >> 24);
    }
    return b;
}

bytes labels_mod(std::size_t n, unsigned classes) {
    bytes b(n);
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>((i * 7 + 3) % classes);
    return b;
}

void write_plain(const std::string& path, const bytes& b) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    if (!out) throw std::runtime_error("cannot write " + path);
}

void write_gz(const std::string& path, const bytes& b) {
    gzFile f = gzopen(path.c_str(), "wb");
    if (f == nullptr) throw std::runtime_error("cannot gzopen " + path);
    const int n = b.empty() ? 0 : gzwrite(f, b.data(), static_cast<unsigned>(b.size()));
    const int rc = gzclose(f);
    if (n != static_cast<int>(b.size()) || rc != Z_OK) throw std::runtime_error("gzwrite failed for " + path);
}

bytes read_raw(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Writes a small consistent data set: 6 training and 4 test images of 3x5.
void write_small_dataset(const temp_dir& d, bool gz) {
    const auto w = [&](const std::string& name, const bytes& b) {
        if (gz)
            write_gz(d.file(name + ".gz"), b);
        else
            write_plain(d.file(name), b);
    };
    w("train-images-idx3-ubyte", idx3(6, 3, 5, noise(std::size_t{6} * 15, 1)));
    w("train-labels-idx1-ubyte", idx1(labels_mod(6, 10)));
    w("t10k-images-idx3-ubyte", idx3(4, 3, 5, noise(std::size_t{4} * 15, 2)));
    w("t10k-labels-idx1-ubyte", idx1(labels_mod(4, 10)));
}

}  // namespace

TEST_CASE("read_images round-trips a plain file exactly", "[idx]") {
    temp_dir d;
    // rows != cols so that a swap of the two would be caught.
    const bytes px = noise(std::size_t{3} * 4 * 7);
    write_plain(d.file("im"), idx3(3, 4, 7, px));
    const mnist::images im = mnist::read_images(d.file("im"));
    CHECK(im.count == 3);
    CHECK(im.rows == 4);
    CHECK(im.cols == 7);
    CHECK(im.image_size() == 28);
    CHECK(im.pixels == px);
    CHECK(im.image(2)[0] == px[56]);
    CHECK(im.image(1)[27] == px[55]);
}

TEST_CASE("read_images round-trips a gzip file exactly", "[idx]") {
    temp_dir d;
    const bytes px = noise(std::size_t{5} * 2 * 9, 77);
    write_gz(d.file("im.gz"), idx3(5, 2, 9, px));
    const mnist::images im = mnist::read_images(d.file("im.gz"));
    CHECK(im.count == 5);
    CHECK(im.rows == 2);
    CHECK(im.cols == 9);
    CHECK(im.pixels == px);
}

TEST_CASE("read_images handles data larger than one read chunk", "[idx]") {
    temp_dir d;
    // 5 MiB crosses both the 1 MiB read chunk and the 4 MiB growth step.
    const bytes px = noise(std::size_t{5} * 1024 * 1024, 9);
    write_gz(d.file("big.gz"), idx3(5 * 1024, 32, 32, px));
    const mnist::images im = mnist::read_images(d.file("big.gz"));
    CHECK(im.count == std::size_t{5} * 1024);
    CHECK(im.pixels == px);
}

TEST_CASE("read_images accepts a file with zero images", "[idx]") {
    temp_dir d;
    write_plain(d.file("empty"), idx3(0, 28, 28, {}));
    const mnist::images im = mnist::read_images(d.file("empty"));
    CHECK(im.count == 0);
    CHECK(im.rows == 28);
    CHECK(im.pixels.empty());
}

TEST_CASE("read_labels round-trips plain and gzip files", "[idx]") {
    temp_dir d;
    const bytes v = labels_mod(50, 10);
    write_plain(d.file("lb"), idx1(v));
    write_gz(d.file("lb.gz"), idx1(v));
    CHECK(mnist::read_labels(d.file("lb")).values == v);
    CHECK(mnist::read_labels(d.file("lb.gz")).values == v);
    CHECK(mnist::read_labels(d.file("lb")).count() == 50);
}

TEST_CASE("read_labels honours num_classes", "[idx]") {
    temp_dir d;
    const bytes v = labels_mod(40, 26);  // values up to 25
    write_plain(d.file("lb"), idx1(v));
    CHECK(mnist::read_labels(d.file("lb"), 26).values == v);
    REQUIRE_THROWS_WITH(mnist::read_labels(d.file("lb"), 25),
                        Contains("label out of range") && Contains("value 25") && Contains("expected < 25"));
    REQUIRE_THROWS_AS(mnist::read_labels(d.file("lb"), 0), std::invalid_argument);
    REQUIRE_THROWS_WITH(mnist::read_labels(d.file("lb"), 0), Contains("num_classes"));
}

TEST_CASE("load_dataset reads plain files", "[idx]") {
    temp_dir d;
    write_small_dataset(d, false);
    const mnist::dataset ds = mnist::load_dataset(d.str());
    CHECK(ds.train_images.count == 6);
    CHECK(ds.train_images.rows == 3);
    CHECK(ds.train_images.cols == 5);
    CHECK(ds.train_images.pixels == noise(90, 1));
    CHECK(ds.train_labels.values == labels_mod(6, 10));
    CHECK(ds.test_images.count == 4);
    CHECK(ds.test_images.pixels == noise(60, 2));
    CHECK(ds.test_labels.values == labels_mod(4, 10));
}

TEST_CASE("load_dataset reads .gz files", "[idx]") {
    temp_dir d;
    write_small_dataset(d, true);
    const mnist::dataset ds = mnist::load_dataset(d.str());
    CHECK(ds.train_images.pixels == noise(90, 1));
    CHECK(ds.train_labels.values == labels_mod(6, 10));
    CHECK(ds.test_images.pixels == noise(60, 2));
    CHECK(ds.test_labels.values == labels_mod(4, 10));
}

TEST_CASE("load_dataset mixes plain and .gz and prefers plain when both exist", "[idx]") {
    temp_dir d;
    write_small_dataset(d, false);
    fs::remove(d.file("t10k-labels-idx1-ubyte"));
    write_gz(d.file("t10k-labels-idx1-ubyte.gz"), idx1(bytes{9, 8, 7, 6}));
    // A .gz beside the plain file with different content shows which one is read.
    write_gz(d.file("train-images-idx3-ubyte.gz"), idx3(6, 3, 5, noise(90, 99)));
    const mnist::dataset ds = mnist::load_dataset(d.str());
    CHECK(ds.test_labels.values == bytes{9, 8, 7, 6});
    CHECK(ds.train_images.pixels == noise(90, 1));
}

TEST_CASE("load_dataset passes num_classes on to the labels", "[idx]") {
    temp_dir d;
    write_small_dataset(d, false);
    // labels_mod(6, 10) has values 3, 0, 7, 4, 1, 8.
    REQUIRE_THROWS_WITH(mnist::load_dataset(d.str(), 8),
                        Contains("train-labels-idx1-ubyte") && Contains("index 5") && Contains("value 8"));
}

TEST_CASE("load_dataset reports a missing directory with the fetch hint", "[idx][errors]") {
    temp_dir d;
    const std::string missing = d.file("nowhere");
    REQUIRE_THROWS_AS(mnist::load_dataset(missing), mnist::data_error);
    REQUIRE_THROWS_WITH(mnist::load_dataset(missing), Contains(missing) && Contains("does not exist") &&
                                                          Contains("run scripts/fetch_mnist.sh"));
    write_plain(d.file("afile"), bytes{1, 2, 3});
    REQUIRE_THROWS_WITH(mnist::load_dataset(d.file("afile")),
                        Contains(d.file("afile")) && Contains("not a directory"));
}

TEST_CASE("load_dataset names both names tried for a missing file", "[idx][errors]") {
    temp_dir d;
    write_small_dataset(d, false);
    fs::remove(d.file("t10k-images-idx3-ubyte"));
    REQUIRE_THROWS_WITH(mnist::load_dataset(d.str()), Contains("missing t10k-images-idx3-ubyte") &&
                                                          Contains(d.file("t10k-images-idx3-ubyte") + "'") &&
                                                          Contains(d.file("t10k-images-idx3-ubyte.gz")));
}

TEST_CASE("load_dataset rejects differing image and label counts", "[idx][errors]") {
    temp_dir d;
    write_small_dataset(d, false);
    write_plain(d.file("train-labels-idx1-ubyte"), idx1(labels_mod(5, 10)));
    REQUIRE_THROWS_WITH(mnist::load_dataset(d.str()), Contains("train-labels-idx1-ubyte") &&
                                                          Contains("image and label counts differ") &&
                                                          Contains("5 labels") && Contains("6 images"));
}

TEST_CASE("load_dataset rejects train and test images of different sizes", "[idx][errors]") {
    temp_dir d;
    write_small_dataset(d, false);
    write_plain(d.file("t10k-images-idx3-ubyte"), idx3(4, 5, 3, noise(60)));
    REQUIRE_THROWS_WITH(mnist::load_dataset(d.str()),
                        Contains("t10k-images-idx3-ubyte") && Contains("5x3 differs") && Contains("3x5"));
}

TEST_CASE("load_dataset rejects an empty training or test set", "[idx][errors]") {
    temp_dir d;
    write_small_dataset(d, false);
    write_plain(d.file("t10k-images-idx3-ubyte"), idx3(0, 3, 5, {}));
    write_plain(d.file("t10k-labels-idx1-ubyte"), idx1({}));
    REQUIRE_THROWS_WITH(mnist::load_dataset(d.str()),
                        Contains("t10k-images-idx3-ubyte") && Contains("no images"));
}

TEST_CASE("read_images reports an unopenable path", "[idx][errors]") {
    temp_dir d;
    REQUIRE_THROWS_WITH(mnist::read_images(d.file("absent")),
                        Contains(d.file("absent")) && Contains("cannot open") && Contains("No such file"));
    REQUIRE_THROWS_WITH(mnist::read_images(d.str()), Contains("is a directory"));
}

TEST_CASE("wrong magic numbers are reported in hex", "[idx][errors]") {
    temp_dir d;
    write_plain(d.file("labels-not-images"), idx1(labels_mod(4, 10)));
    REQUIRE_THROWS_WITH(mnist::read_images(d.file("labels-not-images")),
                        Contains(d.file("labels-not-images")) && Contains("wrong magic number") &&
                            Contains("expected 0x00000803") && Contains("found 0x00000801"));
    write_plain(d.file("images-not-labels"), idx3(1, 1, 1, bytes{0}));
    REQUIRE_THROWS_WITH(mnist::read_labels(d.file("images-not-labels")),
                        Contains(d.file("images-not-labels")) && Contains("expected 0x00000801") &&
                            Contains("found 0x00000803"));
    // A float IDX file (type code 0x0d) is not ubyte data.
    bytes f = idx3(1, 1, 1, bytes{0, 0, 0, 0});
    f[2] = 0x0d;
    write_gz(d.file("float.gz"), f);
    REQUIRE_THROWS_WITH(mnist::read_images(d.file("float.gz")),
                        Contains(d.file("float.gz")) && Contains("found 0x00000d03"));
}

TEST_CASE("truncated headers are reported with byte counts", "[idx][errors]") {
    temp_dir d;
    bytes h = idx3(2, 2, 2, noise(8));
    h.resize(10);
    write_plain(d.file("short"), h);
    REQUIRE_THROWS_WITH(mnist::read_images(d.file("short")), Contains(d.file("short")) &&
                                                                 Contains("truncated header") &&
                                                                 Contains("expected 16 bytes, found 10"));
    write_gz(d.file("short.gz"), h);
    REQUIRE_THROWS_WITH(mnist::read_images(d.file("short.gz")),
                        Contains(d.file("short.gz")) && Contains("expected 16 bytes, found 10"));
    write_plain(d.file("empty"), {});
    REQUIRE_THROWS_WITH(mnist::read_labels(d.file("empty")),
                        Contains(d.file("empty")) && Contains("expected 8 bytes, found 0"));
    write_plain(d.file("two"), bytes{0, 0});
    REQUIRE_THROWS_WITH(mnist::read_labels(d.file("two")),
                        Contains("truncated header") && Contains("found 2"));
}

TEST_CASE("truncated data reports expected and found bytes", "[idx][errors]") {
    temp_dir d;
    bytes im = idx3(3, 4, 5, noise(60));
    im.pop_back();
    write_plain(d.file("im"), im);
    REQUIRE_THROWS_WITH(mnist::read_images(d.file("im")),
                        Contains(d.file("im")) && Contains("truncated data") &&
                            Contains("expected 60 bytes of pixel data, found 59"));
    write_gz(d.file("im.gz"), im);
    REQUIRE_THROWS_WITH(mnist::read_images(d.file("im.gz")),
                        Contains(d.file("im.gz")) && Contains("expected 60 bytes of pixel data, found 59"));
    bytes lb = idx1(labels_mod(10, 10));
    lb.resize(lb.size() - 4);
    write_plain(d.file("lb"), lb);
    REQUIRE_THROWS_WITH(mnist::read_labels(d.file("lb")), Contains("expected 10 bytes of labels, found 6"));
}

TEST_CASE("trailing bytes after the declared data are an error", "[idx][errors]") {
    temp_dir d;
    bytes im = idx3(2, 3, 3, noise(18));
    im.insert(im.end(), {1, 2, 3});
    write_plain(d.file("im"), im);
    REQUIRE_THROWS_WITH(mnist::read_images(d.file("im")), Contains(d.file("im")) &&
                                                              Contains("trailing garbage: 3 bytes") &&
                                                              Contains("18 bytes of pixel data"));
    // More than one scratch buffer of extra data is counted in full.
    bytes lb = idx1(labels_mod(5, 10));
    const bytes tail = noise(10000);
    lb.insert(lb.end(), tail.begin(), tail.end());
    write_gz(d.file("lb.gz"), lb);
    REQUIRE_THROWS_WITH(mnist::read_labels(d.file("lb.gz")),
                        Contains(d.file("lb.gz")) && Contains("trailing garbage: 10000 bytes"));
}

TEST_CASE("label out of range gives index and value", "[idx][errors]") {
    temp_dir d;
    write_plain(d.file("lb"), idx1(bytes{0, 9, 3, 10, 255}));
    REQUIRE_THROWS_WITH(mnist::read_labels(d.file("lb")),
                        Contains(d.file("lb")) && Contains("label out of range at index 3") &&
                            Contains("value 10") && Contains("expected < 10"));
}

TEST_CASE("corrupt gzip streams are reported", "[idx][errors]") {
    temp_dir d;
    const bytes im = idx3(40, 10, 10, noise(4000));
    write_gz(d.file("good.gz"), im);
    const bytes gz = read_raw(d.file("good.gz"));
    REQUIRE(gz.size() > 100);

    SECTION("damaged compressed body") {
        bytes bad = gz;
        for (std::size_t i = 30; i < 60; ++i) bad[i] = static_cast<std::uint8_t>(~bad[i]);
        write_plain(d.file("bad.gz"), bad);
        REQUIRE_THROWS_WITH(mnist::read_images(d.file("bad.gz")),
                            Contains(d.file("bad.gz")) && Contains("corrupt gzip stream"));
    }
    SECTION("wrong CRC in the trailer") {
        bytes bad = gz;
        bad[bad.size() - 8] ^= 0xFF;
        write_plain(d.file("crc.gz"), bad);
        REQUIRE_THROWS_WITH(mnist::read_images(d.file("crc.gz")), Contains(d.file("crc.gz")) &&
                                                                      Contains("corrupt gzip stream") &&
                                                                      Contains("incorrect data check"));
    }
    SECTION("gzip magic followed by junk") {
        bytes bad = {0x1f, 0x8b};
        const bytes junk = noise(64, 5);
        bad.insert(bad.end(), junk.begin(), junk.end());
        write_plain(d.file("junk.gz"), bad);
        REQUIRE_THROWS_WITH(mnist::read_labels(d.file("junk.gz")),
                            Contains(d.file("junk.gz")) && Contains("corrupt gzip stream"));
    }
    SECTION("compressed file cut in the middle of the data") {
        bytes cut = gz;
        cut.resize(gz.size() / 2);
        write_plain(d.file("cut.gz"), cut);
        REQUIRE_THROWS_WITH(mnist::read_images(d.file("cut.gz")),
                            Contains(d.file("cut.gz")) && Contains("truncated data") &&
                                Contains("expected 4000 bytes") && Contains("compressed stream ends early"));
    }
    SECTION("compressed file missing only its trailer") {
        bytes cut = gz;
        cut.resize(gz.size() - 4);
        write_plain(d.file("notrailer.gz"), cut);
        REQUIRE_THROWS_WITH(mnist::read_images(d.file("notrailer.gz")), Contains(d.file("notrailer.gz")) &&
                                                                            Contains("corrupt gzip stream") &&
                                                                            Contains("ends early"));
    }
}

TEST_CASE("data after the last gzip member is refused, as gzip -t warns of it", "[idx][errors]") {
    temp_dir d;
    const bytes lb = idx1(labels_mod(50, 10));
    write_gz(d.file("one.gz"), lb);
    const bytes gz = read_raw(d.file("one.gz"));
    SECTION("junk after the member") {
        bytes bad = gz;
        for (const char c : std::string("junk after the gzip member\n"))
            bad.push_back(static_cast<std::uint8_t>(c));
        write_plain(d.file("junk.gz"), bad);
        REQUIRE_THROWS_WITH(mnist::read_labels(d.file("junk.gz")),
                            Contains(d.file("junk.gz")) && Contains("trailing garbage: 27 bytes") &&
                                Contains("after the end of the gzip data"));
    }
    SECTION("zero padding after the member") {
        bytes bad = gz;
        bad.resize(bad.size() + 512, 0);
        write_plain(d.file("zeros.gz"), bad);
        REQUIRE_THROWS_WITH(mnist::read_labels(d.file("zeros.gz")), Contains("trailing garbage: 512 bytes"));
    }
    SECTION("a second member is read on, as gzip does") {
        // The labels split across two members, each with its own trailer.
        const bytes head(lb.begin(), lb.begin() + 20);
        const bytes tail(lb.begin() + 20, lb.end());
        write_gz(d.file("a.gz"), head);
        write_gz(d.file("b.gz"), tail);
        bytes two = read_raw(d.file("a.gz"));
        const bytes second = read_raw(d.file("b.gz"));
        two.insert(two.end(), second.begin(), second.end());
        write_plain(d.file("two.gz"), two);
        REQUIRE(mnist::read_labels(d.file("two.gz")).values == labels_mod(50, 10));
        // ...and the second member's length is checked too.
        two[two.size() - 1] ^= 0x01;
        write_plain(d.file("badlen.gz"), two);
        REQUIRE_THROWS_WITH(mnist::read_labels(d.file("badlen.gz")),
                            Contains("corrupt gzip stream") && Contains("incorrect length check"));
    }
}

TEST_CASE("only regular files are read: a FIFO or a device is refused at once", "[idx][errors]") {
    temp_dir d;
    // With no writer, opening a FIFO to read would wait for ever.
    REQUIRE(mkfifo(d.file("fifo").c_str(), 0600) == 0);
    REQUIRE_THROWS_WITH(mnist::read_images(d.file("fifo")),
                        Contains(d.file("fifo")) && Contains("is a FIFO, not a regular file"));
    // An endless device behind a symlink: followed, then refused.
    fs::create_symlink("/dev/zero", d.file("zero-link"));
    REQUIRE_THROWS_WITH(
        mnist::read_labels(d.file("zero-link")),
        Contains(d.file("zero-link")) && Contains("is a character device, not a regular file"));
    // A symlink to a regular file is read as the file.
    write_plain(d.file("lb"), idx1(labels_mod(7, 10)));
    fs::create_symlink(d.file("lb"), d.file("lb-link"));
    REQUIRE(mnist::read_labels(d.file("lb-link")).values == labels_mod(7, 10));
}

TEST_CASE("a data path that cannot be reached names the real error, not \"missing\"", "[idx][errors]") {
    temp_dir d;
    write_plain(d.file("afile"), bytes{1, 2, 3});
    // A path component that is a file: ENOTDIR. (The tests run as root, to
    // whom a mode-000 directory is readable; EACCES takes the same path.)
    REQUIRE_THROWS_WITH(
        mnist::load_dataset(d.file("afile") + "/mnist"),
        Contains(d.file("afile") + "/mnist") && Contains("Not a directory") && !Contains("does not exist"));
    // A file name that is a symlink loop: ELOOP, not a missing file.
    write_small_dataset(d, false);
    fs::remove(d.file("train-labels-idx1-ubyte"));
    fs::create_symlink(d.file("train-labels-idx1-ubyte"), d.file("train-labels-idx1-ubyte"));
    REQUIRE_THROWS_WITH(mnist::load_dataset(d.str()), Contains(d.file("train-labels-idx1-ubyte")) &&
                                                          Contains("Too many levels of symbolic links") &&
                                                          !Contains("missing"));
}

TEST_CASE("absurd or overflowing dimensions are rejected before allocating", "[idx][errors]") {
    temp_dir d;
    write_plain(d.file("huge"), idx3(4000000000u, 28, 28, noise(100)));
    REQUIRE_THROWS_WITH(mnist::read_images(d.file("huge")),
                        Contains(d.file("huge")) && Contains("4000000000 x 28 x 28") &&
                            Contains("3136000000000 bytes") && Contains("2147483648-byte limit"));
    write_gz(d.file("overflow.gz"), idx3(0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, {}));
    REQUIRE_THROWS_WITH(mnist::read_images(d.file("overflow.gz")),
                        Contains(d.file("overflow.gz")) && Contains("overflow"));
    bytes lb;
    put_be32(lb, 0x00000801);
    put_be32(lb, 4000000000u);
    write_plain(d.file("manylabels"), lb);
    REQUIRE_THROWS_WITH(mnist::read_labels(d.file("manylabels")),
                        Contains(d.file("manylabels")) && Contains("4000000000 labels") && Contains("limit"));
    write_plain(d.file("zero"), idx3(5, 0, 28, {}));
    REQUIRE_THROWS_WITH(mnist::read_images(d.file("zero")),
                        Contains(d.file("zero")) && Contains("zero size"));
}

TEST_CASE("a large but plausible header on a tiny file is a truncation error", "[idx][errors]") {
    temp_dir d;
    // 1.5 GB claimed, 100 bytes present: must fail on the data, not on memory.
    write_plain(d.file("liar"), idx3(2000000, 28, 28, noise(100)));
    REQUIRE_THROWS_WITH(
        mnist::read_images(d.file("liar")),
        Contains(d.file("liar")) && Contains("expected 1568000000 bytes of pixel data, found 100"));
}

TEST_CASE("the real MNIST files load with their known contents", "[idx][mnist]") {
    const auto found = mnist_test::mnist_dir();
    if (!found) return;  // skipped, and said so
    const std::string& dir = *found;
    const mnist::dataset ds = mnist::load_dataset(dir);
    REQUIRE(ds.train_images.count == 60000);
    REQUIRE(ds.test_images.count == 10000);
    CHECK(ds.train_images.rows == 28);
    CHECK(ds.train_images.cols == 28);
    CHECK(ds.test_images.rows == 28);
    CHECK(ds.test_images.cols == 28);
    REQUIRE(ds.train_labels.values.size() == 60000);
    REQUIRE(ds.test_labels.values.size() == 10000);
    CHECK(ds.train_labels.values[0] == 5);
    CHECK(ds.test_labels.values[0] == 7);

    // Class frequencies and first-image ink, as published for MNIST and
    // cross-checked with an independent reader.
    const std::vector<std::size_t> train_hist = {5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949};
    const std::vector<std::size_t> test_hist = {980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009};
    std::vector<std::size_t> h(10, 0);
    for (auto v : ds.train_labels.values) ++h[v];
    CHECK(h == train_hist);
    h.assign(10, 0);
    for (auto v : ds.test_labels.values) ++h[v];
    CHECK(h == test_hist);
    const auto* first = ds.train_images.image(0);
    CHECK(std::accumulate(first, first + 784, 0L) == 27525L);
    const auto* first_test = ds.test_images.image(0);
    CHECK(std::accumulate(first_test, first_test + 784, 0L) == 18454L);
}
