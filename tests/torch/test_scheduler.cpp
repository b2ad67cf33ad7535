// clr::torch::scheduler: construction, steps, groups, resuming through
// torch::save / torch::load, and every refusal with its message.
#include "torch_model.hpp"

#include <clr/torch.hpp>

#include <torch/serialize.h>

#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace {

using namespace clr_torch_test;
using Catch::Matchers::Contains;

// A file in the test's working directory, removed at the end of the scope.
struct temp_file {
    explicit temp_file(std::string name) : path(std::move(name)) {}
    ~temp_file() { std::remove(path.c_str()); }
    std::string path;
};

auto sgd_schedule() { return clr::triangular<double>(0.01, 0.1, 10).with_momentum(0.8, 0.95); }

// Trains `updates` updates with SGD (momentum, two groups) under
// sgd_schedule(), starting from what p, opt and sched hold.
void train(std::vector<::torch::Tensor>& p, ::torch::optim::Optimizer& opt,
           clr::torch::scheduler<decltype(sgd_schedule())>& sched, int updates) {
    const auto x = x_data(), y = y_data();
    for (int i = 0; i < updates; ++i) {
        opt.zero_grad();
        loss_of(p, x, y).backward();
        opt.step();
        sched.step();
    }
}

::torch::optim::SGDOptions sgd_options() {
    return ::torch::optim::SGDOptions(0.05).momentum(0.9).weight_decay(1e-3);
}

}  // namespace

TEST_CASE("construction applies lr(0) and momentum(0) to every group, step() the next values", "[torch]") {
    auto p = model();
    ::torch::optim::SGD opt(groups(p), sgd_options());
    const auto s = sgd_schedule();
    clr::torch::scheduler sched(opt, s, {1.0, 0.25});
    auto& g = opt.param_groups();
    CHECK(sched.steps() == 0);
    CHECK(g[0].options().get_lr() == s.lr(0));
    CHECK(g[1].options().get_lr() == s.lr(0) * 0.25);
    CHECK(static_cast<::torch::optim::SGDOptions&>(g[1].options()).momentum() == *s.momentum(0));
    for (clr::step_t t = 1; t <= 25; ++t) {
        sched.step();
        CHECK(sched.steps() == t);
        CHECK(g[0].options().get_lr() == s.lr(t));
        CHECK(g[1].options().get_lr() == s.lr(t) * 0.25);
        CHECK(sched.last_lr() == std::vector<double>{s.lr(t), s.lr(t) * 0.25});
        CHECK(static_cast<::torch::optim::SGDOptions&>(g[0].options()).momentum() == *s.momentum(t));
        CHECK(sched.last_momentum() == s.momentum(t));
    }
    // At the peak of the first cycle: max_lr, base_momentum.
    sched.set_steps(10);
    CHECK(g[0].options().get_lr() == 0.1);
    CHECK(static_cast<::torch::optim::SGDOptions&>(g[0].options()).momentum() == 0.8);
}

TEST_CASE("a float schedule sets its values widened to double", "[torch]") {
    auto p = model();
    ::torch::optim::AdamW opt(groups(p), ::torch::optim::AdamWOptions(0.01));
    const auto s = clr::one_cycle<float>(0.1f, 100).with_momentum(0.85f, 0.95f);
    clr::torch::scheduler sched(opt, s);
    for (clr::step_t t = 0; t < 100; ++t, sched.step()) {
        const auto& o = static_cast<const ::torch::optim::AdamWOptions&>(opt.param_groups()[1].options());
        CHECK(o.lr() == double(s.lr(t)));
        CHECK(std::get<0>(o.betas()) == double(*s.momentum(t)));
        CHECK(std::get<1>(o.betas()) == 0.999);
    }
}

TEST_CASE("group_lr_ratios reads each group's rate relative to the first's", "[torch]") {
    auto p = model();
    auto gs = groups(p);
    gs[1].set_options(std::make_unique<::torch::optim::AdamOptions>(0.005));
    ::torch::optim::Adam opt(gs, ::torch::optim::AdamOptions(0.02));
    const auto ratios = clr::torch::group_lr_ratios(opt);
    CHECK(ratios == std::vector<double>{1.0, 0.25});
    clr::torch::scheduler sched(opt, clr::constant<double>(0.4), ratios);
    CHECK(sched.last_lr() == std::vector<double>{0.4, 0.1});
}

TEST_CASE("a schedule without momentum leaves the optimizer's momentum alone", "[torch]") {
    auto p = model();
    ::torch::optim::Adam opt(groups(p), ::torch::optim::AdamOptions(0.01).betas({0.7, 0.9}));
    clr::torch::scheduler sched(opt, clr::cosine<double>(0.01, 20));
    sched.step();
    CHECK(!sched.last_momentum());
    CHECK(std::get<0>(static_cast<::torch::optim::AdamOptions&>(opt.param_groups()[0].options()).betas()) ==
          0.7);
    CHECK(opt.param_groups()[0].options().get_lr() == clr::cosine<double>(0.01, 20).lr(1));
}

TEST_CASE("any optimizer takes a schedule that leaves momentum alone (Adagrad)", "[torch]") {
    auto p = model();
    ::torch::optim::Adagrad opt(groups(p), ::torch::optim::AdagradOptions(0.1));
    clr::torch::scheduler sched(opt, clr::exponential<double>(0.1, 0.5));
    sched.step();
    sched.step();
    CHECK(opt.param_groups()[1].options().get_lr() == 0.025);
}

TEST_CASE(
    "resume: stopped at update 23, saved, loaded into a fresh optimizer and scheduler, "
    "continues as a run that never stopped",
    "[torch][resume]") {
    constexpr int total = 50, stop = 23;
    auto p_ref = model();
    ::torch::optim::SGD opt_ref(groups(p_ref), sgd_options());
    clr::torch::scheduler ref(opt_ref, sgd_schedule(), {1.0, 0.5});
    train(p_ref, opt_ref, ref, total);

    temp_file params("torch_resume_params.pt"), opt_file("torch_resume_opt.pt"),
        sched_file("torch_resume_sched.pt");
    {
        auto p = model();
        ::torch::optim::SGD opt(groups(p), sgd_options());
        clr::torch::scheduler sched(opt, sgd_schedule(), {1.0, 0.5});
        train(p, opt, sched, stop);
        CHECK(sched.steps() == stop);
        ::torch::save(p, params.path);
        ::torch::save(opt, opt_file.path);
        ::torch::save(sched, sched_file.path);
    }
    std::vector<::torch::Tensor> loaded;
    ::torch::load(loaded, params.path);
    auto p = model();
    {
        ::torch::NoGradGuard no_grad;
        for (std::size_t i = 0; i < p.size(); ++i) p[i].copy_(loaded[i]);
    }
    ::torch::optim::SGD opt(groups(p), sgd_options());
    clr::torch::scheduler sched(opt, sgd_schedule(), {1.0, 0.5});
    CHECK(sched.steps() == 0);
    ::torch::load(opt, opt_file.path);
    ::torch::load(sched, sched_file.path);
    CHECK(sched.steps() == stop);
    CHECK(opt.param_groups()[1].options().get_lr() == sgd_schedule().lr(stop) * 0.5);
    train(p, opt, sched, total - stop);

    CHECK(sched.steps() == ref.steps());
    CHECK(sched.last_lr() == ref.last_lr());
    CHECK(sched.last_momentum() == ref.last_momentum());
    const auto got = flat(p), want = flat(p_ref);
    REQUIRE(got.size() == want.size());
    for (std::size_t k = 0; k < got.size(); ++k) {
        INFO("parameter " << k);
        CHECK(got[k] == want[k]);  // bit for bit
    }
}

TEST_CASE("set_steps resumes without an archive", "[torch][resume]") {
    auto p = model();
    ::torch::optim::SGD opt(groups(p), sgd_options());
    clr::torch::scheduler sched(opt, sgd_schedule());
    sched.set_steps(37);
    CHECK(sched.steps() == 37);
    CHECK(opt.param_groups()[0].options().get_lr() == sgd_schedule().lr(37));
    CHECK_THROWS_WITH(sched.set_steps(clr::step_t(-1)),
                      Contains("steps = 18446744073709551615 is larger than 2^62"));
    CHECK(sched.steps() == 37);
}

TEST_CASE("an optimizer without momentum refuses a momentum-cycling schedule", "[torch][errors]") {
    auto p = model();
    ::torch::optim::Adagrad opt(groups(p), ::torch::optim::AdagradOptions(0.1));
    CHECK_THROWS_AS(clr::torch::scheduler(opt, sgd_schedule()), std::invalid_argument);
    CHECK_THROWS_WITH(
        clr::torch::scheduler(opt, sgd_schedule()),
        Contains("the schedule cycles momentum (0.95 at step 0), and parameter group 0's optimizer "
                 "has no momentum to cycle: SGD and RMSprop take it as momentum, Adam and AdamW as "
                 "beta1"));
    // Nothing was applied.
    CHECK(opt.param_groups()[0].options().get_lr() == 0.1);
}

TEST_CASE("group scales must match the optimizer's groups", "[torch][errors]") {
    auto p = model();
    ::torch::optim::SGD opt(groups(p), sgd_options());
    CHECK_THROWS_WITH(clr::torch::scheduler(opt, sgd_schedule(), {1.0, 0.5, 0.25}),
                      "clr::torch::scheduler: 3 group scales for an optimizer with 2 parameter groups");
    CHECK_THROWS_WITH(clr::torch::scheduler(opt, sgd_schedule(), {1.0, -0.5}),
                      "clr::torch::scheduler: group_scales[1] = -0.5 must not be negative");
    // A group added after construction is refused at the next step, before anything changes.
    clr::torch::scheduler sched(opt, sgd_schedule());
    opt.add_param_group(::torch::optim::OptimizerParamGroup({::torch::zeros({2}, ::torch::kFloat64)}));
    CHECK_THROWS_WITH(sched.step(),
                      "clr::torch::scheduler::step: the optimizer has 3 parameter groups, the "
                      "scheduler was built for 2");
    CHECK(sched.steps() == 0);
}

TEST_CASE("a schedule value that is no rate is refused before anything changes", "[torch][errors]") {
    auto p = model();
    ::torch::optim::SGD opt(groups(p), sgd_options());
    // 1e308 times a scale of 10 overflows.
    CHECK_THROWS_WITH(clr::torch::scheduler(opt, clr::constant<double>(1e308), {1.0, 10.0}),
                      Contains("lr = 1e+308 at step 0 times group 1's scale = 10 is not finite"));
    CHECK(opt.param_groups()[0].options().get_lr() == 0.05);
}

TEST_CASE("load refuses a bad archive, naming what is wrong", "[torch][errors]") {
    auto p = model();
    ::torch::optim::SGD opt(groups(p), sgd_options());
    clr::torch::scheduler sched(opt, sgd_schedule(), {1.0, 0.5});
    for (int i = 0; i < 5; ++i) sched.step();
    temp_file saved("torch_errors_sched.pt"), other("torch_errors_other.pt");
    ::torch::save(sched, saved.path);

    SECTION("an archive that is not a scheduler's") {
        ::torch::save(opt, other.path);
        clr::torch::scheduler fresh(opt, sgd_schedule(), {1.0, 0.5});
        CHECK_THROWS_AS(::torch::load(fresh, other.path), clr::torch::checkpoint_error);
        CHECK_THROWS_WITH(::torch::load(fresh, other.path),
                          "clr::torch::scheduler::load: the archive has no 'clr_scheduler' entry: it was not "
                          "written by clr::torch::scheduler::save");
        CHECK(fresh.steps() == 0);
    }
    SECTION("a scheduler entry with a key missing") {
        ::torch::serialize::OutputArchive inner, outer;
        inner.write("format", c10::IValue(std::int64_t(1)));
        inner.write("schedule", c10::IValue(clr::to_string(sgd_schedule())));
        inner.write("group_scales", c10::IValue(std::vector<double>{1.0, 0.5}));
        outer.write("clr_scheduler", inner);
        outer.save_to(other.path);
        clr::torch::scheduler fresh(opt, sgd_schedule(), {1.0, 0.5});
        CHECK_THROWS_WITH(
            ::torch::load(fresh, other.path),
            "clr::torch::scheduler::load: the archive's scheduler entry has no 'steps' (damaged file?)");
        CHECK(fresh.steps() == 0);
    }
    SECTION("a different schedule, shown beside this one, accepted with resume::new_settings") {
        const auto changed = clr::triangular<double>(0.01, 0.2, 10).with_momentum(0.8, 0.95);
        clr::torch::scheduler fresh(opt, changed, {1.0, 0.5});
        CHECK_THROWS_WITH(
            ::torch::load(fresh, saved.path),
            "clr::torch::scheduler::load: the schedule differs: the archive's is triangular(base_lr=0.01, "
            "max_lr=0.1, step_size=10, base_momentum=0.8, max_momentum=0.95), this scheduler's is "
            "triangular(base_lr=0.01, max_lr=0.2, step_size=10, base_momentum=0.8, max_momentum=0.95); load "
            "with clr::torch::resume::new_settings if the change is intended");
        CHECK(fresh.steps() == 0);
        ::torch::serialize::InputArchive in;
        in.load_from(saved.path);
        fresh.load(in, clr::torch::resume::new_settings);
        CHECK(fresh.steps() == 5);
        CHECK(opt.param_groups()[0].options().get_lr() == changed.lr(5));
    }
    SECTION("different group scales") {
        clr::torch::scheduler fresh(opt, sgd_schedule(), {1.0, 0.25});
        CHECK_THROWS_WITH(::torch::load(fresh, saved.path),
                          "clr::torch::scheduler::load: group 1's scale differs: the archive's is 0.5, this "
                          "scheduler's is 0.25; load with clr::torch::resume::new_settings if the change is "
                          "intended");
    }
    SECTION("a different number of groups, refused whatever the settings") {
        auto q = model();
        ::torch::optim::SGD one_group(std::vector<::torch::Tensor>{q[0]}, sgd_options());
        clr::torch::scheduler fresh(one_group, sgd_schedule());
        ::torch::serialize::InputArchive in;
        in.load_from(saved.path);
        CHECK_THROWS_WITH(fresh.load(in, clr::torch::resume::new_settings),
                          "clr::torch::scheduler::load: the archive is of a scheduler of 2 parameter groups, "
                          "this one drives 1");
    }
    SECTION("a schedule without a text form cannot be checked, and loads") {
        const auto own =
            clr::make_cyclic(0.01, 0.1, 10, clr::scale_on_cycle([](clr::step_t) { return 1.0; }));
        clr::torch::scheduler fresh(opt, own, {1.0, 0.5});
        ::torch::save(fresh, other.path);
        clr::torch::scheduler again(opt, sgd_schedule(), {1.0, 0.5});
        ::torch::load(again, other.path);
        CHECK(again.steps() == 0);
    }
}
