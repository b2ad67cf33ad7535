// The training flags the MNIST trainers share beside the schedule's
// (schedule_options.hpp): --optimizer, --lr, --momentum, --weight-decay,
// --epochs, --batch, --seed, --threads, --data, with the same names,
// defaults, checks and messages in every program.
//
//     trainer_cli::trainer_options t;
//     trainer_cli::add_trainer_options(app, t);
//     ... parse ...
//     trainer_cli::settle(t, sched_opts, train_count);   // option_error naming the flag
#pragma once

#include "schedule_options.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>

namespace trainer_cli {

using schedule_cli::option_error;

struct trainer_options {
    std::string optimizer = "adam";      // sgd, adam or adamw
    std::optional<double> lr;            // the constant rate
    std::optional<double> momentum;      // SGD momentum or Adam's beta1 (default 0.9)
    std::optional<double> weight_decay;  // default 0, AdamW 0.01 as in PyTorch
    int epochs = 10;
    std::int64_t batch = 200;
    std::uint64_t seed = 1;
    int threads = 0;  // 0: all cores
    std::string data = "data/mnist";
};

inline void add_trainer_options(CLI::App& app, trainer_options& t) {
    app.add_option("--optimizer", t.optimizer, "sgd, adam or adamw (default adam)")->type_name("NAME");
    // Every number goes through the strict parsers of schedule_options.hpp,
    // so that a bad value is refused naming its own flag: CLI11 would take
    // "nan", "inf", "1e400" and "-1" (as 2^64 - 1 for an unsigned).
    const auto number = [&app](const char* flag, const char* type, const std::string& help, auto set) {
        app.add_option_function<std::string>(
               flag, [flag, set](const std::string& v) { set(schedule_cli::parse_number(flag, v)); }, help)
            ->type_name(type);
    };
    number("--lr", "RATE", "The rate of --schedule constant (default 0.001)", [&t](double v) { t.lr = v; });
    number("--momentum", "M", "SGD momentum, or Adam's beta1 (default 0.9)",
           [&t](double v) { t.momentum = v; });
    number("--weight-decay", "W", "L2 (sgd, adam) or decoupled (adamw) decay",
           [&t](double v) { t.weight_decay = v; });
    app.add_option("--epochs", t.epochs, "Passes over the training set (default 10)")->type_name("N");
    app.add_option("--batch", t.batch, "Examples per update (default 200)")->type_name("N");
    app.add_option_function<std::string>(
           "--seed",
           [&t](const std::string& v) {
               t.seed = schedule_cli::parse_unsigned("--seed", v, 0, UINT64_MAX,
                                                     "a whole number from 0 to 2^64 - 1");
           },
           "Initialisation and shuffling seed, 0 to 2^64 - 1 (default 1)")
        ->type_name("N");
    app.add_option("--threads", t.threads, "Compute threads (default: all cores)")->type_name("N");
    app.add_option("--data", t.data, "Directory of the four IDX files, plain or .gz (default data/mnist)")
        ->type_name("DIR");
}

// Fills in what the flags leave to the trainer (the constant rate, the
// thread count, the run length one_cycle and the decays span) and checks
// every flag, the schedule's included, before any data is read.
inline void settle(trainer_options& t, schedule_cli::schedule_options& s, std::int64_t train_count) {
    if (s.name.empty()) s.name = "constant";
    if (t.lr) {
        if (s.name != "constant")
            throw option_error(
                "--lr", "is the constant rate; --schedule " + s.name + " takes --base-lr and --max-lr");
        if (s.base_lr) throw option_error("--lr", "and --base-lr both set the constant rate; give one");
        s.base_lr = t.lr;
        t.lr.reset();  // settled: a second pass must not see the rate twice
    }
    if (s.name == "constant" && !s.base_lr) s.base_lr = 1e-3;  // Keras's Adam default
    if (t.optimizer != "sgd" && t.optimizer != "adam" && t.optimizer != "adamw")
        throw option_error("--optimizer", "'" + t.optimizer + "' is not one of sgd, adam, adamw");
    if (t.epochs < 1 || t.epochs > 10000)
        throw option_error("--epochs", std::to_string(t.epochs) + " must lie in [1, 10000]");
    if (t.batch < 1 || t.batch > 60000)
        throw option_error("--batch", std::to_string(t.batch) + " must lie in [1, 60000]");
    if (t.momentum && !(*t.momentum >= 0.0 && *t.momentum < 1.0))
        throw option_error("--momentum", schedule_cli::detail::number(*t.momentum) + " must lie in [0, 1)");
    if (t.weight_decay && !(*t.weight_decay >= 0.0 && std::isfinite(*t.weight_decay)))
        throw option_error("--weight-decay",
                           schedule_cli::detail::number(*t.weight_decay) + " must be finite and >= 0");
    if (t.threads < 0 || t.threads > 256)
        throw option_error("--threads", std::to_string(t.threads) + " must lie in [1, 256]");
    if (t.threads == 0) t.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    const std::int64_t batch = std::min<std::int64_t>(t.batch, std::max<std::int64_t>(train_count, 1));
    const auto per_epoch = static_cast<clr::step_t>((train_count + batch - 1) / batch);
    s.default_total_steps = per_epoch * static_cast<clr::step_t>(t.epochs);
    schedule_cli::check(s);
}

}  // namespace trainer_cli
