// mnist_clr's checkpoints: a run stopped after any epoch continues from the
// file --save wrote, on any number of ranks, as the run that never stopped
// would have (bit for bit on the same ranks and threads). The file holds two
// text lines with what the run's batches depend on, then the parameters
// (clr::optim::save_blocks) and the optimizer's state (opt.save), each
// record with its own CRC-32C:
//
//     mnist_clr checkpoint 1
//     epoch 2 batch 200 seed 1 train 60000 test 10000
//
// The schedule and the optimizer's options are in the optimizer's record,
// whose load refuses other ones. The shuffles of the epochs done are not
// stored: train() replays them from the seed (train_options::first_epoch).
#pragma once

#include "mlp.hpp"

#include <clr/optim/checkpoint.hpp>

#include <cstdint>
#include <istream>
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
};

namespace detail {
constexpr const char* checkpoint_magic = "mnist_clr checkpoint 1";

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
}  // namespace detail

template <class Optimizer>
void write_checkpoint(std::ostream& out, const checkpoint_info& info, const mlp<float>& net,
                      const Optimizer& opt) {
    out << detail::checkpoint_magic << '\n'
        << "epoch " << info.epoch << " batch " << info.batch << " seed " << info.seed << " train "
        << info.train << " test " << info.test << '\n';
    clr::optim::save_blocks(out, net.W1, net.b1, net.W2, net.b2);
    opt.save(out);
}

// The header alone: what a run checks against its flags before reading its data.
inline checkpoint_info read_checkpoint_info(std::istream& in) {
    if (detail::read_line(in) != detail::checkpoint_magic)
        throw checkpoint_error("it is not a mnist_clr checkpoint (version 1)");
    std::istringstream fields(detail::read_line(in));
    checkpoint_info info;
    std::string k[5];
    fields >> k[0] >> info.epoch >> k[1] >> info.batch >> k[2] >> info.seed >> k[3] >> info.train >> k[4] >>
        info.test;
    std::string rest;
    if (!fields || fields >> rest || k[0] != "epoch" || k[1] != "batch" || k[2] != "seed" ||
        k[3] != "train" || k[4] != "test" || info.epoch < 1 || info.batch < 1 || info.train < 1 ||
        info.test < 1)
        throw checkpoint_error("its header line is damaged");
    return info;
}

// The whole checkpoint into `net` and `opt` (opt holding net's parameters,
// registered as add_parameters does). On any error neither is changed.
template <class Optimizer>
checkpoint_info read_checkpoint(std::istream& in, mlp<float>& net, Optimizer& opt) {
    const checkpoint_info info = read_checkpoint_info(in);
    mlp<float> staged = net;
    try {
        clr::optim::load_blocks(in, staged.W1, staged.b1, staged.W2, staged.b2);
        opt.load(in);
    } catch (const clr::optim::checkpoint_error& e) {
        throw checkpoint_error(e.what());
    }
    net.W1 = staged.W1;
    net.b1 = staged.b1;
    net.W2 = staged.W2;
    net.b2 = staged.b2;
    return info;
}

}  // namespace mnist
