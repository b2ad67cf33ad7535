// mnist_clr's checkpoints: a run stopped after any epoch continues from the
// file --save wrote, on any number of ranks, as the run that never stopped
// would have (bit for bit on the same ranks and threads). The file holds two
// text lines with what the run's batches depend on, then the parameters
// (clr::optim::save_blocks) and the optimizer's state (opt.save), each
// record with its own CRC-32C, and nothing after them:
//
//     mnist_clr checkpoint 2
//     epoch 2 batch 200 seed 1 train 60000 test 10000 data 0x1b2c3d4e
//
// `data` is the CRC-32C of the data set's images and labels (data_checksum):
// the sizes alone would take Fashion-MNIST for MNIST. Version 1 is the same
// without it, and still loads; its data is known only by its sizes.
//
// The schedule and the optimizer's options are in the optimizer's record,
// whose load refuses other ones. The shuffles of the epochs done are not
// stored: train() replays them from the seed (train_options::first_epoch).
//
// A run resuming reads the file once (read_checkpoint_file) and checks and
// loads everything from those bytes: a file another job rewrites meanwhile
// cannot give it one epoch's header and another's state.
#pragma once

#include "idx.hpp"
#include "mlp.hpp"

#include <clr/optim/checkpoint.hpp>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <istream>
#include <limits>
#include <optional>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace mnist {

// A checkpoint that cannot be read, or that belongs to another run.
class checkpoint_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct checkpoint_info {
    int epoch = 0;  // epochs done
    index batch = 0;
    std::uint64_t seed = 0;
    index train = 0;  // examples in the training set
    index test = 0;   // and in the test set
    // data_checksum of the data set; none in a version 1 checkpoint.
    std::optional<std::uint32_t> data;
};

// CRC-32C (Castagnoli), as clr's own records use, one byte at a time: the
// checksum of a data set and of a checkpoint's bytes, which the ranks of a
// data-parallel run compare. Kept here rather than borrowed from clr's detail
// namespace, whose records may change.
class crc32c {
public:
    crc32c& update(const void* data, std::size_t n) noexcept {
        static const std::array<std::uint32_t, 256> table = make_table();
        const auto* p = static_cast<const unsigned char*>(data);
        std::uint32_t c = state_;
        for (std::size_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xFFu] ^ (c >> 8);
        state_ = c;
        return *this;
    }
    crc32c& update(const std::string& s) noexcept { return update(s.data(), s.size()); }
    std::uint32_t value() const noexcept { return ~state_; }

private:
    static std::array<std::uint32_t, 256> make_table() noexcept {
        std::array<std::uint32_t, 256> t{};
        for (std::uint32_t i = 0; i < 256; ++i) {
            std::uint32_t c = i;
            for (int k = 0; k < 8; ++k) c = (c & 1u) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
            t[i] = c;
        }
        return t;
    }
    std::uint32_t state_ = 0xFFFFFFFFu;
};

// The checksum of a data set: every image's size and pixels and every label,
// training set then test set. Two sets of MNIST's sizes (MNIST and
// Fashion-MNIST) differ in it.
inline std::uint32_t data_checksum(const dataset& d) {
    crc32c c;
    for (const images* im : {&d.train_images, &d.test_images}) {
        const std::string dims = std::to_string(im->count) + " " + std::to_string(im->rows) + "x" +
                                 std::to_string(im->cols) + "\n";
        c.update(dims).update(im->pixels.data(), im->pixels.size());
        const labels& lb = im == &d.train_images ? d.train_labels : d.test_labels;
        c.update(lb.values.data(), lb.values.size());
    }
    return c.value();
}

namespace detail {
constexpr const char* checkpoint_magic = "mnist_clr checkpoint 2";
constexpr const char* checkpoint_magic_v1 = "mnist_clr checkpoint 1";

// The largest file read_checkpoint_file takes: far above the checkpoint of
// any network these data sets make (7.5 MB for MNIST with Adam), and a
// bound on what a file that only starts like a checkpoint can make it hold.
constexpr std::size_t max_checkpoint_bytes = std::size_t{1} << 30;

// One line of at most 200 characters: a file that is not a checkpoint has
// no business making the reader scan all of it.
inline std::string read_line(std::istream& in) {
    std::string line;
    for (char c; line.size() <= 200 && in.get(c);) {
        if (c == '\n') return line;
        line.push_back(c);
    }
    throw checkpoint_error(in.eof() && line.empty()
                               ? "it is empty or ends early"
                               : "it does not start with a mnist_clr checkpoint's header");
}

// The second header line: "epoch E batch B seed S train N test M", and in
// version 2 " data 0x........" after it.
inline checkpoint_info parse_fields(const std::string& line, bool with_data) {
    std::istringstream fields(line);
    checkpoint_info info;
    std::string k[6];
    fields >> k[0] >> info.epoch >> k[1] >> info.batch >> k[2] >> info.seed >> k[3] >> info.train >> k[4] >>
        info.test;
    bool ok = fields && k[0] == "epoch" && k[1] == "batch" && k[2] == "seed" && k[3] == "train" &&
              k[4] == "test" && info.epoch >= 1 && info.batch >= 1 && info.train >= 1 && info.test >= 1;
    if (ok && with_data) {
        std::string hex;
        fields >> k[5] >> hex;
        ok = fields && k[5] == "data" && hex.size() == 10 && hex.compare(0, 2, "0x") == 0 &&
             hex.find_first_not_of("0123456789abcdef", 2) == std::string::npos;
        if (ok) info.data = static_cast<std::uint32_t>(std::strtoul(hex.c_str() + 2, nullptr, 16));
    }
    std::string rest;
    if (!ok || fields >> rest) throw checkpoint_error("its header line is damaged");
    return info;
}
}  // namespace detail

// Writes a version 2 checkpoint; info.data must be set.
template <class Optimizer>
void write_checkpoint(std::ostream& out, const checkpoint_info& info, const mlp<float>& net,
                      const Optimizer& opt) {
    if (!info.data) throw std::invalid_argument("write_checkpoint: no checksum of the data in the header");
    out << detail::checkpoint_magic << '\n'
        << "epoch " << info.epoch << " batch " << info.batch << " seed " << info.seed << " train "
        << info.train << " test " << info.test << " data " << hex32(*info.data) << '\n';
    clr::optim::save_blocks(out, net.W1, net.b1, net.W2, net.b2);
    opt.save(out);
}

// The header alone, of version 2 or 1: what a run checks against its flags
// before reading its data.
inline checkpoint_info read_checkpoint_info(std::istream& in) {
    const std::string magic = detail::read_line(in);
    if (magic != detail::checkpoint_magic && magic != detail::checkpoint_magic_v1)
        throw checkpoint_error("it is not a mnist_clr checkpoint (version 2 or 1)");
    return detail::parse_fields(detail::read_line(in), magic == detail::checkpoint_magic);
}

// The whole checkpoint into `net` and `opt` (opt holding net's parameters,
// registered as add_parameters does), which must end where the stream ends.
// On any error neither is changed.
template <class Optimizer>
checkpoint_info read_checkpoint(std::istream& in, mlp<float>& net, Optimizer& opt) {
    const checkpoint_info info = read_checkpoint_info(in);
    mlp<float> staged = net;
    Optimizer state = opt;
    try {
        clr::optim::load_blocks(in, staged.W1, staged.b1, staged.W2, staged.b2);
        state.load(in);
    } catch (const clr::optim::checkpoint_error& e) {
        throw checkpoint_error(e.what());
    }
    // Whatever follows is not this program's: a file appended to, or two joined.
    in.ignore(std::numeric_limits<std::streamsize>::max());
    if (const std::streamsize extra = in.gcount(); extra > 0)
        throw checkpoint_error(std::to_string(extra) + (extra == 1 ? " byte follows" : " bytes follow") +
                               " the optimizer's state, where the checkpoint should end");
    opt = state;
    net.W1 = staged.W1;
    net.b1 = staged.b1;
    net.W2 = staged.W2;
    net.b2 = staged.b2;
    return info;
}

// A checkpoint file as read once, its bytes kept in memory: the header a run
// is checked against, the checksum the ranks compare, and the state, loaded
// later from these same bytes (load_checkpoint), whatever the file holds by then.
struct checkpoint_file {
    std::string bytes;
    checkpoint_info info;
    std::uint32_t checksum = 0;  // CRC-32C of all the bytes
};

// Reads a checkpoint to the end of `in`: its header first, so that a file that
// is not one is refused after a few hundred bytes, then the rest, up to
// detail::max_checkpoint_bytes. The records are checked when they are loaded.
inline checkpoint_file read_checkpoint_file(std::istream& in) {
    checkpoint_file f;
    const std::string magic = detail::read_line(in);
    const std::string fields = detail::read_line(in);
    f.bytes = magic + '\n' + fields + '\n';
    std::istringstream header(f.bytes);
    f.info = read_checkpoint_info(header);
    std::array<char, 1 << 16> buf{};
    while (in.read(buf.data(), buf.size()) || in.gcount() > 0) {
        f.bytes.append(buf.data(), static_cast<std::size_t>(in.gcount()));
        if (f.bytes.size() > detail::max_checkpoint_bytes)
            throw checkpoint_error("it is larger than any mnist_clr checkpoint (" +
                                   std::to_string(detail::max_checkpoint_bytes >> 20) + " MiB)");
    }
    if (in.bad()) throw checkpoint_error("read failed");
    f.checksum = crc32c().update(f.bytes).value();
    return f;
}

inline checkpoint_file read_checkpoint_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw checkpoint_error(std::string("cannot open: ") + std::strerror(errno));
    return read_checkpoint_file(in);
}

// read_checkpoint from the bytes read once.
template <class Optimizer>
checkpoint_info load_checkpoint(const checkpoint_file& f, mlp<float>& net, Optimizer& opt) {
    std::istringstream in(f.bytes, std::ios::in | std::ios::binary);
    return read_checkpoint(in, net, opt);
}

}  // namespace mnist
