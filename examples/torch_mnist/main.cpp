// torch_mnist: the MNIST case study of mnist_clr (a 784-784-10 MLP, ReLU,
// softmax cross-entropy, weights from N(0, 0.05), zero biases) trained with
// libtorch's optimizers, the learning rate set by clr::torch::scheduler. The
// same flags as mnist_clr for the schedule, optimizer, batch, epochs, seed
// and threads, and the same Keras-style epoch lines. It follows
// bench/pytorch_mnist.py step for step (initialisation, shuffling, batches),
// so the C++ and Python programs can be timed side by side.
//
//     torch_mnist --schedule triangular --base-lr 0.001 --max-lr 0.003 --step-size 750
//
// Exit status: 0 done, 1 a failure while training, 2 bad flags, values or
// data files, 3 training diverged (a non-finite loss or parameter), as
// mnist_clr's.
#include "divergence.hpp"
#include "idx.hpp"

#include "schedule_flags.hpp"
#include "trainer_flags.hpp"

#include <clr/torch.hpp>

#include <torch/torch.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace {

using schedule_flags::option_error;

using divergence::diverged;

// The smallest and largest value of each parameter: a NaN makes both NaN, an
// infinity is one of them. aminmax takes 0.1 ms over the 784x784 weights,
// isfinite(p).all() 1.3 ms, a quarter of an update of batch 200.
bool all_finite(const torch::nn::Sequential& model) {
    for (const auto& p : model->parameters()) {
        const auto [lo, hi] = torch::aminmax(p.detach());
        if (!std::isfinite(lo.item<double>()) || !std::isfinite(hi.item<double>())) return false;
    }
    return true;
}

// One line: the update, its rate, and what to do about it. torch_mnist has no
// range test of its own; mnist_clr's runs the same network.
void print_diverged(const diverged& e) {
    std::fprintf(stderr,
                 "torch_mnist: training diverged at update %llu (lr %.3g): %s; the rate is too high, try a "
                 "lower one (mnist_clr --range-test finds rates that train this network)\n",
                 static_cast<unsigned long long>(e.step()), e.lr(), e.what());
}

struct split {
    torch::Tensor x;  // float32, examples x 784, pixels / 255
    torch::Tensor y;  // int64 labels
};

split to_tensors(const mnist::images& im, const mnist::labels& lb) {
    const auto n = static_cast<std::int64_t>(im.count), d = static_cast<std::int64_t>(im.image_size());
    auto bytes = torch::from_blob(const_cast<std::uint8_t*>(im.pixels.data()), {n, d}, torch::kUInt8);
    auto labels = torch::from_blob(const_cast<std::uint8_t*>(lb.values.data()), {n}, torch::kUInt8);
    // As pytorch_mnist.py: float32 pixels divided by float32 255.
    return {bytes.to(torch::kFloat32) / 255.0f, labels.to(torch::kInt64)};
}

torch::nn::Sequential make_model() {
    torch::nn::Sequential model(torch::nn::Linear(784, 784), torch::nn::ReLU(), torch::nn::Linear(784, 10));
    torch::NoGradGuard no_grad;
    for (std::size_t i : {0u, 2u}) {
        auto* layer = model[i]->as<torch::nn::Linear>();
        torch::nn::init::normal_(layer->weight, 0.0, 0.05);
        torch::nn::init::zeros_(layer->bias);
    }
    return model;
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const trainer_flags::trainer_options& t,
                                                        const std::vector<torch::Tensor>& params) {
    const double m = t.momentum.value_or(0.9);
    // The rate here is a placeholder: the scheduler sets lr(0) on construction.
    if (t.optimizer == "sgd")
        return std::make_unique<torch::optim::SGD>(
            params, torch::optim::SGDOptions(1e-3).momentum(m).weight_decay(t.weight_decay.value_or(0.0)));
    if (t.optimizer == "adamw")
        return std::make_unique<torch::optim::AdamW>(
            params,
            torch::optim::AdamWOptions(1e-3).betas({m, 0.999}).weight_decay(t.weight_decay.value_or(0.01)));
    return std::make_unique<torch::optim::Adam>(
        params, torch::optim::AdamOptions(1e-3).betas({m, 0.999}).weight_decay(t.weight_decay.value_or(0.0)));
}

struct result {
    double train_seconds = 0.0;
    double test_error = 0.0;
};

result train(const clr::any_schedule<double>& schedule, const trainer_flags::trainer_options& t,
             const split& train_set, const split& test_set) {
    torch::manual_seed(t.seed);
    auto model = make_model();
    auto opt = make_optimizer(t, model->parameters());
    clr::torch::scheduler sched(*opt, schedule);
    auto shuffle = at::make_generator<at::CPUGeneratorImpl>(t.seed);

    const std::int64_t n = train_set.x.size(0), batch = std::min(t.batch, n);
    const std::int64_t batches = (n + batch - 1) / batch;
    result r;
    for (int epoch = 1; epoch <= t.epochs; ++epoch) {
        const auto start = std::chrono::steady_clock::now();
        model->train();
        const auto order = torch::randperm(n, shuffle, torch::kInt64);
        double loss_sum = 0.0;
        std::int64_t correct = 0;
        for (std::int64_t b = 0; b < batches; ++b) {
            const auto idx = order.slice(0, b * batch, std::min(n, (b + 1) * batch));
            const auto xb = train_set.x.index_select(0, idx), yb = train_set.y.index_select(0, idx);
            opt->zero_grad();
            const auto logits = model->forward(xb);
            const auto loss = torch::nn::functional::cross_entropy(logits, yb);
            const double loss_value = loss.item<double>();
            // The update's number and rate, before the scheduler moves on.
            const clr::step_t t = sched.steps();
            const double lr = sched.last_lr().front();
            // A non-finite loss is not applied: the run stops at it.
            if (!std::isfinite(loss_value))
                throw diverged(t, lr, std::string("the loss is ") + (std::isnan(loss_value) ? "nan" : "inf"));
            loss.backward();
            opt->step();
            if (!all_finite(model)) throw diverged(t, lr, "a parameter is no longer finite");
            sched.step();
            loss_sum += loss_value * double(yb.size(0));
            correct += logits.argmax(1).eq(yb).sum().item<std::int64_t>();
        }
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        r.train_seconds += seconds;

        torch::NoGradGuard no_grad;
        model->eval();
        const auto logits = model->forward(test_set.x);
        const double val_loss = torch::nn::functional::cross_entropy(logits, test_set.y).item<double>();
        const auto val_correct = logits.argmax(1).eq(test_set.y).sum().item<std::int64_t>();
        const auto test_n = test_set.x.size(0);
        std::printf("Epoch %d/%d - %.1fs - loss: %.4f - acc: %.4f - val_loss: %.4f - val_acc: %.4f\n", epoch,
                    t.epochs, seconds, loss_sum / double(n), double(correct) / double(n), val_loss,
                    double(val_correct) / double(test_n));
        std::fflush(stdout);
        r.test_error = double(test_n - val_correct) / double(test_n);
    }
    return r;
}

}  // namespace

int main(int argc, char** argv) try {
    schedule_flags::choice s;
    s.schedule = "constant";
    trainer_flags::trainer_options t;

    CLI::App app{"Trains a 784-784-10 MLP on MNIST with libtorch, its rate set by a clr schedule.",
                 "torch_mnist"};
    app.get_formatter()->column_width(34);
    schedule_flags::add_schedule_flags(app, s);
    trainer_flags::add_trainer_flags(app, t);
    app.footer(schedule_flags::flags_by_schedule() +
               "Exit status: 0 done, 1 training failed, 2 bad flags, values or data files, 3 training "
               "diverged (a non-finite loss or parameter: the rate is too high; try a lower one).");
    if (const auto status = schedule_flags::parse_command_line(app, argc, argv, "torch_mnist"))
        return *status;

    try {
        trainer_flags::settle(t, s);
        // The flags are checked before the data is read, so a typo costs
        // nothing: the schedule is built for MNIST's length, and again only
        // for a data set of another.
        s.steps_per_epoch = t.batches_per_epoch(60000);
        s.run_length = *s.steps_per_epoch * static_cast<clr::step_t>(t.epochs);
        clr::any_schedule<double> schedule = schedule_flags::build<double>(s);
        // clr::torch takes neither yet; mnist_clr (clr::optim) does.
        if (t.weight_decay_text)
            throw option_error("--weight-decay",
                               "torch_mnist takes a number; a schedule of it is mnist_clr's");
        if (clr::plateau_count(schedule) > 0)
            throw option_error("--schedule", "torch_mnist reports no metric to a plateau; mnist_clr does");
        std::error_code ec;
        if (!std::filesystem::is_directory(t.data, ec))
            throw mnist::data_error(
                t.data, "no such directory; fetch MNIST with scripts/fetch_mnist.sh (or pass --data DIR)");
        const mnist::dataset ds = mnist::load_dataset(t.data);
        const split train_set = to_tensors(ds.train_images, ds.train_labels);
        const split test_set = to_tensors(ds.test_images, ds.test_labels);
        const clr::step_t per_epoch = t.batches_per_epoch(train_set.x.size(0));
        const clr::step_t run_length = per_epoch * static_cast<clr::step_t>(t.epochs);
        if (run_length != s.run_length) {
            s.run_length = run_length;
            s.steps_per_epoch = per_epoch;
            schedule = schedule_flags::build<double>(s);
        }

        torch::set_num_threads(t.threads);
        std::printf("Train: %ld examples, test: %ld, %d threads\n", static_cast<long>(train_set.x.size(0)),
                    static_cast<long>(test_set.x.size(0)), t.threads);
        std::printf("libtorch %d.%d.%d\n", TORCH_VERSION_MAJOR, TORCH_VERSION_MINOR, TORCH_VERSION_PATCH);
        std::printf("%s, %s, batch %ld, %d epochs, seed %llu\n", trainer_flags::describe_optimizer(t).c_str(),
                    clr::to_string(schedule).c_str(), static_cast<long>(t.batch), t.epochs,
                    static_cast<unsigned long long>(t.seed));

        result r;
        try {
            r = train(schedule, t, train_set, test_set);
        } catch (const diverged& e) {
            std::fflush(stdout);
            print_diverged(e);
            return divergence::exit_status;
        }
        std::printf("Train time: %.1f s\n", r.train_seconds);
        std::printf("Test error: %.2f%%\n", 100.0 * r.test_error);
    } catch (const option_error& e) {
        std::fprintf(stderr, "torch_mnist: %s\n", e.what());
        return 2;
    } catch (const mnist::data_error& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "torch_mnist: %s\n", e.what());
        return 1;
    }
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "torch_mnist: %s\n", e.what());
    return 1;
}
