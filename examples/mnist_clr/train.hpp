// The training loop of the MNIST example: shuffled mini-batches through the
// MLP, one optimizer update per batch, the test set scored after every epoch.
// Everything a run needs is allocated before its first update.
#pragma once

#include "idx.hpp"
#include "mlp.hpp"

#include "divergence.hpp"

#include <clr/optim/optimizer.hpp>
#include <clr/plateau.hpp>
#include <clr/schedule.hpp>

#include <Eigen/Core>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace mnist {

// Images as float columns scaled to [0, 1], as the model reads them.
struct float_set {
    Eigen::MatrixXf x;  // pixels x count
    std::vector<std::uint8_t> y;
};

struct float_data {
    float_set train;
    float_set test;
};

inline float_set to_float(const images& im, const labels& lb) {
    float_set s;
    const auto n = static_cast<index>(im.count);
    const auto d = static_cast<index>(im.rows * im.cols);
    s.x.resize(d, n);
    const Eigen::Map<const Eigen::Matrix<std::uint8_t, Eigen::Dynamic, Eigen::Dynamic>> raw(im.pixels.data(),
                                                                                            d, n);
    s.x = raw.cast<float>() * (1.0f / 255.0f);
    s.y = lb.values;
    return s;
}

inline float_data to_float(const dataset& ds) {
    return {to_float(ds.train_images, ds.train_labels), to_float(ds.test_images, ds.test_labels)};
}

// Floating-point work of one training example through a in-h-o network: the
// forward GEMMs, dW1 and the output layer's three products. No gradient flows
// into the input, so the in x h layer costs two products, not three.
inline double train_flops_per_example(index in, index hidden, index out) {
    const double big = 2.0 * double(in) * double(hidden);
    const double small = 2.0 * double(hidden) * double(out);
    return 2.0 * big + 3.0 * small;
}

inline double eval_flops_per_example(index in, index hidden, index out) {
    return 2.0 * double(in) * double(hidden) + 2.0 * double(hidden) * double(out);
}

// A uniform integer in [0, n) by rejection, so that a seed shuffles alike
// whatever standard library built the program (std::uniform_int_distribution
// is left to each library).
inline std::uint64_t uniform_below(std::mt19937_64& rng, std::uint64_t n) {
    const std::uint64_t limit =
        std::uint64_t(0) - (std::uint64_t(0) - n) % n;  // largest multiple of n, mod 2^64
    for (;;) {
        const std::uint64_t r = rng();
        if (limit == 0 || r < limit) return r % n;
    }
}

inline void shuffle(std::vector<std::uint32_t>& order, std::mt19937_64& rng) {
    for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[uniform_below(rng, i)]);
}

// Rank r's items [begin, end) of n over p ranks: contiguous, in rank order,
// sizes differing by at most one, the first n mod p ranks taking one more
// (200 over 3: 67, 67, 66). Every rank of a data-parallel run splits each
// batch, and the test set, by this rule.
struct share {
    index begin = 0;
    index end = 0;
    index size() const noexcept { return end - begin; }
};

inline share share_of(index n, int rank, int ranks) {
    if (ranks < 1 || rank < 0 || rank >= ranks || n < 0)
        throw std::invalid_argument("share_of: rank " + std::to_string(rank) + " of " +
                                    std::to_string(ranks) + " ranks, " + std::to_string(n) + " items");
    const index base = n / ranks;
    const index extra = n % ranks;
    const index begin = rank * base + std::min<index>(rank, extra);
    return {begin, begin + base + (rank < extra ? 1 : 0)};
}

// The processes training together, as train() sees them: this one's rank, how
// many there are, and an in-place element-wise sum across all of them. One
// process alone, by default; distributed::world (examples/common) is the MPI one.
struct solo {
    int rank() const noexcept { return 0; }
    int size() const noexcept { return 1; }
    template <class T>
    void sum(T*, std::size_t) const noexcept {}
};

// Mini-batches of a data set in a fresh random order every epoch, the last,
// partial batch included, gathered into one buffer allocated up front. In a
// data-parallel run every rank shuffles alike (the same seed) and gathers
// only its share of each batch.
class batcher {
public:
    batcher(const float_set& set, index batch, std::uint64_t seed)
        : set_(set),
          batch_(std::min(batch, set.x.cols())),
          x_(set.x.rows(), batch_),
          y_(static_cast<std::size_t>(batch_)),
          order_(static_cast<std::size_t>(set.x.cols())),
          rng_(seed ^ 0x5eed5eed5eed5eedULL) {
        if (batch < 1) throw std::invalid_argument("batcher: batch must be at least 1");
        if (set.x.cols() == 0) throw std::invalid_argument("batcher: no examples");
        for (std::size_t i = 0; i < order_.size(); ++i) order_[i] = static_cast<std::uint32_t>(i);
    }

    index batch_size() const noexcept { return batch_; }
    index batches_per_epoch() const noexcept { return (set_.x.cols() + batch_ - 1) / batch_; }

    // Gathers rank's share of the next batch (all of it by default) and
    // returns the whole batch's size; x() and y() hold the share. A new epoch
    // starts with a new shuffle.
    index next(int rank = 0, int ranks = 1) {
        const index n = set_.x.cols();
        if (pos_ == 0) shuffle(order_, rng_);
        const index whole = std::min(batch_, n - pos_);
        const share mine = share_of(whole, rank, ranks);
        len_ = mine.size();
        for (index j = 0; j < len_; ++j) {
            const auto src = order_[static_cast<std::size_t>(pos_ + mine.begin + j)];
            x_.col(j) = set_.x.col(src);
            y_[static_cast<std::size_t>(j)] = set_.y[src];
        }
        pos_ += whole;
        if (pos_ == n) pos_ = 0;
        return whole;
    }

    index share_size() const noexcept { return len_; }

    // The shuffle of an epoch whose batches are not wanted (an epoch a
    // resumed run has done already), at the start of an epoch.
    void skip_epoch() {
        if (pos_ != 0) throw std::logic_error("batcher::skip_epoch: not at the start of an epoch");
        shuffle(order_, rng_);
    }

    auto x() const { return x_.leftCols(len_); }
    const std::uint8_t* y() const noexcept { return y_.data(); }

private:
    const float_set& set_;
    index batch_;
    Eigen::MatrixXf x_;
    std::vector<std::uint8_t> y_;
    std::vector<std::uint32_t> order_;
    std::mt19937_64 rng_;
    index pos_ = 0;
    index len_ = 0;
};

struct train_options {
    int epochs = 10;
    index batch = 200;
    std::uint64_t seed = 1;
    // A resumed run starts later: the net and the optimizer hold the state
    // after epoch first_epoch - 1 (checkpoint.hpp), and the shuffles of the
    // epochs before are replayed, so the batches are the ones the run that
    // never stopped takes.
    int first_epoch = 1;
};

// What one update did: its step, the rate and momentum (beta1 for Adam) it
// used, and the batch's mean loss and accuracy.
struct update_record {
    clr::step_t step;
    int epoch;
    double lr;
    std::optional<double> momentum;
    double loss;
    double accuracy;
};

struct epoch_record {
    int epoch;
    clr::step_t steps;  // updates applied so far
    double seconds;     // training time of this epoch
    double loss;        // mean training loss over the epoch's batches, weighted by batch size
    double accuracy;    // training accuracy over the epoch
    double test_loss;
    double test_accuracy;
};

struct run_result {
    std::vector<epoch_record> epochs;
    double train_seconds = 0;  // updates only: no data loading, no test scoring
    double train_flops = 0;
    double test_error() const { return epochs.empty() ? 1.0 : 1.0 - epochs.back().test_accuracy; }
    double gflops_per_second() const { return train_seconds > 0 ? train_flops / train_seconds * 1e-9 : 0.0; }
};

// Raised by train() when an update leaves the loss or a parameter non-finite.
using divergence::diverged;

inline bool all_finite(const mlp<float>& net) {
    return net.W1.allFinite() && net.b1.allFinite() && net.W2.allFinite() && net.b2.allFinite();
}

// Called with progress inside an epoch (batches done, batches in all, running loss).
using progress_fn = std::function<void(int epoch, index done, index total, double loss, double seconds)>;

struct observers {
    std::function<void(const update_record&)> on_update;
    std::function<void(const epoch_record&)> on_epoch;
    progress_fn on_progress;
};

// Mean loss and accuracy over a data set, each rank of the team scoring its
// share and the sums combined.
template <class Team>
std::pair<double, double> score(const mlp<float>& net, const float_set& set, workspace<float>& ws,
                                const Team& team) {
    const index n = set.x.cols();
    if (n == 0) throw std::invalid_argument("score: the data set holds no examples");
    const share mine = share_of(n, team.rank(), team.size());
    double sums[2] = {0.0, 0.0};  // summed loss, number right
    if (mine.size() > 0) {
        std::size_t right = 0;
        const float loss =
            evaluate(net, set.x.middleCols(mine.begin, mine.size()), set.y.data() + mine.begin, ws, &right);
        sums[0] = double(loss) * double(mine.size());
        sums[1] = double(right);
    }
    team.sum(sums, 2);
    return {sums[0] / double(n), sums[1] / double(n)};
}

// Trains `net` in place with `opt`, whose blocks must be net's parameters
// and g's gradients, registered in that order by the caller. Each update is
// reported with the rate and momentum (beta1) the optimizer applied.
//
// Data-parallel with a team of several ranks: each computes the gradient of
// its share of every batch, the shares are summed, and every rank applies
// the same update, so the parameters stay identical everywhere. Every rank
// must call train() with the same arguments and data.
template <class Optimizer, class Team = solo>
run_result train(mlp<float>& net, gradients<float>& g, Optimizer& opt, const float_data& data,
                 const train_options& o, const observers& obs = {}, const Team& team = {}) {
    using clock = std::chrono::steady_clock;
    if (o.epochs < 1) throw std::invalid_argument("train: epochs must be at least 1");
    if (o.first_epoch < 1 || o.first_epoch > o.epochs)
        throw std::invalid_argument("train: first_epoch " + std::to_string(o.first_epoch) +
                                    " is not among the epochs 1 to " + std::to_string(o.epochs));
    if (o.batch < 1) throw std::invalid_argument("train: batch must be at least 1");
    if (data.train.x.cols() == 0) throw std::invalid_argument("train: no training examples");
    const index n = data.train.x.cols();
    batcher batches(data.train, o.batch, o.seed);
    const index per_epoch = batches.batches_per_epoch();
    workspace<float> ws(net, std::max(batches.batch_size(), index(2000)));

    for (int epoch = 1; epoch < o.first_epoch; ++epoch) batches.skip_epoch();

    run_result result;
    result.epochs.reserve(static_cast<std::size_t>(o.epochs) - static_cast<std::size_t>(o.first_epoch) + 1);
    const double flops_per_example = train_flops_per_example(net.inputs(), net.hidden(), net.outputs());

    for (int epoch = o.first_epoch; epoch <= o.epochs; ++epoch) {
        double loss_sum = 0;
        std::size_t right_sum = 0;
        index seen = 0;
        const auto start = clock::now();
        for (index b = 0; b < per_epoch; ++b) {
            const index len = batches.next(team.rank(), team.size());
            const clr::step_t t = opt.steps();
            double sums[2] = {0.0, 0.0};  // the batch's summed loss, number right
            const index mine = batches.share_size();
            if (mine > 0) {
                std::size_t share_right = 0;
                const float share_loss =
                    forward_backward(net, batches.x(), batches.y(), ws, g, &share_right, len);
                sums[0] = double(share_loss) * double(mine);
                sums[1] = double(share_right);
            } else {
                // More ranks than examples in the last batch: nothing to add.
                g.dW1.setZero();
                g.db1.setZero();
                g.dW2.setZero();
                g.db2.setZero();
            }
            team.sum(sums, 2);
            const double loss = sums[0] / double(len);
            const auto right = static_cast<std::size_t>(sums[1]);
            const double accuracy = double(right) / double(len);
            // A non-finite loss is not applied: its update is reported with the
            // rate it would have had, then the run stops.
            if (!std::isfinite(loss)) {
                const double lr = static_cast<double>(opt.lr());
                if (obs.on_update) obs.on_update({t, epoch, lr, std::nullopt, loss, accuracy});
                throw diverged(t, lr, std::string("the loss is ") + (std::isnan(loss) ? "nan" : "inf"));
            }
            if (team.size() > 1)
                // Each share's gradient is already divided by the whole batch
                // (mean_over): summed, they are the batch's mean gradient.
                opt.step([&team](clr::optim::gradient_span<float> grad) {
                    team.sum(grad.data, static_cast<std::size_t>(grad.size));
                });
            else
                opt.step();
            const double lr = static_cast<double>(*opt.last_lr());
            const auto momentum = opt.last_momentum();
            loss_sum += loss * double(len);
            right_sum += right;
            seen += len;
            if (obs.on_update)
                obs.on_update({t, epoch, lr, momentum ? std::optional<double>(*momentum) : std::nullopt, loss,
                               accuracy});
            if (!all_finite(net)) throw diverged(t, lr, "a parameter is no longer finite");
            if (obs.on_progress)
                obs.on_progress(epoch, b + 1, per_epoch, loss_sum / double(seen),
                                std::chrono::duration<double>(clock::now() - start).count());
        }
        const double seconds = std::chrono::duration<double>(clock::now() - start).count();
        result.train_seconds += seconds;
        result.train_flops += flops_per_example * double(n);

        const auto [test_loss, test_accuracy] = score(net, data.test, ws, team);
        // A plateau in the schedule follows the test loss the epoch line
        // prints, the same on every rank (score sums over the team).
        if (clr::plateau_count(opt.schedule()) > 0) opt.report(test_loss);
        epoch_record rec{
            epoch,     opt.steps(),  seconds, loss_sum / double(n), double(right_sum) / double(n),
            test_loss, test_accuracy};
        result.epochs.push_back(rec);
        if (obs.on_epoch) obs.on_epoch(rec);
    }
    return result;
}

}  // namespace mnist
