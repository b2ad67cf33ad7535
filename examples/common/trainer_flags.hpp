// The training flags the MNIST trainers share beside the schedule's
// (schedule_flags.hpp): --optimizer, --lr, --momentum, --weight-decay,
// --epochs, --batch, --seed, --threads, --data, with the same names,
// defaults, checks and messages in every program.
//
//     trainer_flags::trainer_options t;
//     trainer_flags::add_trainer_flags(app, t);
//     ... parse ...
//     trainer_flags::settle(t, schedule_choice);   // option_error naming the flag
#pragma once

#include "schedule_flags.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>

namespace trainer_flags {

using schedule_flags::option_error;

struct trainer_options {
    std::string optimizer = "adam";      // sgd, adam or adamw
    std::optional<double> lr;            // the constant rate
    std::optional<double> momentum;      // SGD momentum or Adam's beta1 (default 0.9)
    std::optional<double> weight_decay;  // default 0, AdamW 0.01 as in PyTorch
    // --weight-decay given as a schedule's text form ("cosine(lr=0.04, ...)"),
    // which the trainer reads for its run's length (a number is weight_decay).
    std::optional<std::string> weight_decay_text;
    clr::run_length run;  // what 2ep and 50% count in weight_decay_text, set by the trainer
    int epochs = 10;
    std::int64_t batch = 200;
    std::uint64_t seed = 1;
    int threads = 0;  // 0 until --threads is given: all cores (settle)
    std::string data = "data/mnist";

    // Updates in one pass over `examples` training examples, the last batch partial.
    clr::step_t batches_per_epoch(std::int64_t examples) const {
        const std::int64_t b = std::min<std::int64_t>(batch, std::max<std::int64_t>(examples, 1));
        return static_cast<clr::step_t>((examples + b - 1) / b);
    }
};

// A number flag read by the strict parser, so that a bad value is refused
// naming its own flag: CLI11 would take "nan", "inf" and "1e400". `check`
// returns what is wrong with a finite value, or "".
template <class Check>
CLI::Option* add_number(CLI::App& app, const char* flag, const char* type, const std::string& help,
                        std::optional<double>& out, Check check) {
    return app
        .add_option_function<std::string>(
            flag,
            [flag, &out, check](const std::string& v) {
                const double x = schedule_flags::parse_number(flag, v);
                const std::string problem = check(x);
                if (!problem.empty()) throw CLI::ValidationError(flag, clr::format_number(x) + " " + problem);
                out = x;
            },
            help)
        ->type_name(type);
}

inline void add_trainer_flags(CLI::App& app, trainer_options& t) {
    app.add_option("--optimizer", t.optimizer, "sgd, adam or adamw (default adam)")
        ->check(CLI::IsMember({"sgd", "adam", "adamw"}))
        ->type_name("NAME");
    const auto any = [](double) { return std::string(); };
    add_number(app, "--lr", "RATE", "The rate of --schedule constant (default 0.001)", t.lr, any);
    add_number(
        app, "--momentum", "M", "SGD momentum, or Adam's beta1, in [0, 1) (default 0.9)", t.momentum,
        [](double m) { return m >= 0.0 && m < 1.0 ? std::string() : std::string("must lie in [0, 1)"); });
    app.add_option_function<std::string>(
           "--weight-decay",
           [&t](const std::string& v) {
               if (v.find('(') != std::string::npos) {  // a text form: read with the run's length
                   t.weight_decay_text = v;
                   return;
               }
               const double w = schedule_flags::parse_number("--weight-decay", v);
               if (w < 0.0)
                   throw CLI::ValidationError("--weight-decay", clr::format_number(w) + " must be >= 0");
               t.weight_decay = w;
           },
           "L2 (sgd, adam) or decoupled (adamw) decay, >= 0, or a schedule of it as a text form: "
           "'cosine(lr=0.04, total_steps=100%)'")
        ->type_name("W|TEXT");
    app.add_option("--epochs", t.epochs, "Passes over the training set, 1 to 10000 (default 10)")
        ->check(CLI::Range(1, 10000))
        ->type_name("N");
    app.add_option("--batch", t.batch, "Examples per update, 1 to 60000 (default 200)")
        ->check(CLI::Range(std::int64_t(1), std::int64_t(60000)))
        ->type_name("N");
    app.add_option_function<std::string>(
           "--seed",
           [&t](const std::string& v) {
               t.seed = schedule_flags::parse_unsigned("--seed", v, 0, UINT64_MAX,
                                                       "a whole number from 0 to 2^64 - 1");
           },
           "Initialisation and shuffling seed, 0 to 2^64 - 1 (default 1)")
        ->type_name("N");
    app.add_option("--threads", t.threads, "Compute threads, 1 to 256 (default: all cores)")
        ->check(CLI::Range(1, 256))
        ->type_name("N");
    app.add_option("--data", t.data, "Directory of the four IDX files, plain or .gz (default data/mnist)")
        ->type_name("DIR");
}

// What the flags leave to the trainer: --lr as the constant schedule's rate,
// Keras's Adam default 0.001 when no rate is given, and the thread count.
inline void settle(trainer_options& t, schedule_flags::choice& s) {
    if (t.lr) {
        if (s.is_text() || s.schedule != "constant")
            throw option_error(
                "--lr", "is the constant rate; --schedule " + s.schedule + " takes --base-lr and --max-lr");
        if (s.given("--base-lr"))
            throw option_error("--lr", "and --base-lr both set the constant rate; give one");
        s.set("--base-lr", *t.lr);
    }
    if (s.schedule == "constant" && !s.given("--base-lr")) s.set("--base-lr", 1e-3);
    if (t.threads == 0) t.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

// "adam, momentum 0.95": the optimizer and what the flags changed of it.
inline std::string describe_optimizer(const trainer_options& t) {
    std::string s = t.optimizer;
    if (t.momentum) s += ", momentum " + clr::format_number(*t.momentum);
    if (t.weight_decay_text) s += ", weight decay " + *t.weight_decay_text;
    if (t.weight_decay) s += ", weight decay " + clr::format_number(*t.weight_decay);
    return s;
}

}  // namespace trainer_flags
