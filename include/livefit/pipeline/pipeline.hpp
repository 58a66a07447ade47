// pipeline: feature transform, champion, challengers, drift detector, gate and rollout in one
// object whose observe(sample) serves, scores, learns, monitors, decides and deploys.
#ifndef LIVEFIT_PIPELINE_PIPELINE_HPP
#define LIVEFIT_PIPELINE_PIPELINE_HPP

#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "livefit/core/concepts.hpp"
#include "livefit/core/events.hpp"
#include "livefit/core/result.hpp"
#include "livefit/core/sample.hpp"
#include "livefit/core/status.hpp"
#include "livefit/deploy/evidence.hpp"
#include "livefit/deploy/evidence_collector.hpp"
#include "livefit/deploy/lineage.hpp"
#include "livefit/deploy/traffic_split.hpp"
#include "livefit/pipeline/policy.hpp"

namespace livefit {

/// A model a pipeline can hold: a regressor that can also go back to its prior.
template <class M>
concept pipeline_model = regressor<M> && std::copy_constructible<M> && requires(M& m) {
  { m.reset() } noexcept;
};

/// A model that can take another's state (keeping its own settings): the re-seed path.
template <class M>
concept seedable_model = requires(M& m, const M& other) {
  { m.seed_from(other) } noexcept -> std::same_as<status>;
};

/// A feature transform: maps x to z of the same size with the statistics learnt so far, and
/// learns from x. Both noexcept and allocation-free (online_standardizer meets it).
/// @post transform() does not change the transform; update() returns ok or changes nothing.
template <class T, class Vector>
concept feature_transform = requires(T& t, const T& ct, const Vector& x, Vector& z) {
  { ct.transform(x, z) } noexcept -> std::same_as<status>;
  { t.update(x) } noexcept -> std::same_as<status>;
};

/// The transform that changes nothing; the pipeline skips it entirely (no copy of x).
struct identity_transform {
  /// z = x; always status::ok. The pipeline never calls it (it reads x directly); it is
  /// here for the feature_transform contract and for any_transform's default.
  template <class Vector>
  [[nodiscard]] status transform(const Vector& x, Vector& z) const noexcept {
    z = x;
    return status::ok;
  }
  /// Learns nothing; always status::ok.
  template <class Vector>
  [[nodiscard]] status update(const Vector&) noexcept {
    return status::ok;
  }
};

/// Where a pipeline publishes the versions it promotes (registry<Model> meets it).
template <class R, class Model>
concept version_store = requires(R& r, const Model& m, lineage l, std::string_view why,
                                 version_id v) {
  { r.publish(m, l, why) } -> std::same_as<result<version_id>>;
  { r.promote(v, why) } -> std::same_as<result<void>>;
};

/// The store used when a pipeline has no registry: numbers versions 1, 2, 3... and keeps
/// nothing (no allocation).
struct no_registry {
  /// Hands out the next version number (last_ + 1) and stores neither the model nor its
  /// lineage; never fails.
  template <class Model>
  [[nodiscard]] result<version_id> publish(const Model&, const lineage&, std::string_view) {
    return ++last_;
  }
  /// Accepts any version: with nothing stored there is nothing to switch.
  [[nodiscard]] result<void> promote(version_id, std::string_view) { return {}; }
  /// The last version number handed out; 0 before the first publish().
  version_id last_{0};
};

/// What observe() did with one sample.
struct observation {
  double prediction{0.0};       ///< The served prediction (made before the models learnt).
  std::uint32_t model{0};       ///< Index of the model that served it.
  version_id version{0};        ///< Its published version (0 before the first publication).
  bool canary{false};           ///< True when a challenger under trial served it.
  bool scored{false};           ///< False during the warm-up.
  bool learned{false};          ///< True when the models learnt from it (by the policy).
};

/// A sink that forwards to a sink owned elsewhere (the pipeline holds its sink by value).
template <class S>
struct sink_ref {
  /// The sink events go to: not owned, must not be null and must outlive every copy.
  S* target;
  /// Passes `e` on to *target.
  void on_event(const event& e) noexcept { target->on_event(e); }
};

/// Forwards rollout events to their pipeline through one function pointer, so a type-erased
/// rollout can report to a pipeline whatever its sink type. Called only on events.
struct event_callback {
  /// First argument of `forward`: the receiver (in a pipeline, the pipeline itself); not
  /// owned.
  void* context{nullptr};
  /// Called as forward(context, e) for every event; must be set before on_event() is.
  void (*forward)(void*, const event&) noexcept {nullptr};
  /// Passes `e` on through `forward`. @pre forward != nullptr
  void on_event(const event& e) noexcept { forward(context, e); }
};

/// The continuous-deployment loop of one stream (DESIGN.md, "The loop it implements").
///
/// Holds models 0..k-1 of one type: one serves production (model 0 at first), the others are
/// challengers; promotion moves the production role to another index, so nothing is copied.
/// For each sample, observe():
///  1. rejects bad input (wrong size, NaN or infinite x or y, time going backwards) with a
///     status, changing nothing;
///  2. transforms x with the statistics learnt so far (a transform still warming up answers
///     not_ready: it learns from x, the sample's time counts for the order check, the
///     sample enters the training fingerprint (it trained the transform, so the lineage of
///     every later version includes it), and the call returns there; the models do not see
///     the sample);
///  3. predicts with every model and serves production's prediction, or the challenger's
///     under trial when the traffic split puts the sample's key in its share;
///  4. after the warm-up, scores every model on the sample before any learns from it
///     (prequential) and adds the paired losses (production vs each challenger) to the
///     evidence and the sequential tests;
///  5. feeds production's loss to the drift detector; a drift is reported and, by policy,
///     resets or re-seeds the challengers (the one under trial excepted);
///  6. with no trial running, asks the gate (every gate_interval samples) about the best
///     challenger; a promote decision starts a copy of the rollout for it, with the
///     challenger's evidence started afresh (the trial is judged on the trial); during a
///     trial, advances the rollout every sample; when it completes, the challenger's state is
///     published to the registry and becomes production; when it is withdrawn, the
///     challenger's evidence starts again;
///  7. lets the models (and the transform) learn, by the update policy.
///
/// Events (drift, decisions, rollout steps, promotions, resets) go to the sink with reasons.
///
/// Hot path: observe() is noexcept; it neither allocates nor makes virtual calls when the
/// components do neither, except when publishing to a registry (a promotion: the registry
/// copies the model). Components are called directly (compile-time composition); for
/// run-time composition, instantiate it with the type-erased components of any.hpp.
///
/// @tparam Model     a pipeline_model (e.g. rls<double, 8>).
/// @tparam Detector  a drift_detector watching production's loss.
/// @tparam Gate      a gate over `evidence`, deciding when a challenger goes on trial.
/// @tparam Rollout   a rollout over `evidence` (copied, pending, for each trial).
/// @tparam Transform a feature_transform, or identity_transform.
/// @tparam Sink      an event_sink (held by value; use sink_ref to share one).
/// @tparam Registry  a version_store, or no_registry.
template <class Model, class Detector, class Gate, class Rollout,
          class Transform = identity_transform, class Sink = null_sink,
          class Registry = no_registry>
class pipeline {
  static_assert(pipeline_model<Model>, "pipeline: Model must be a copyable regressor with reset()");
  static_assert(drift_detector<Detector>, "pipeline: Detector must be a drift_detector");
  static_assert(gate<Gate, evidence>, "pipeline: Gate must be a gate over livefit::evidence");
  static_assert(rollout<Rollout, evidence>, "pipeline: Rollout must be a rollout over evidence");
  static_assert(event_sink<Sink>, "pipeline: Sink must be an event_sink");
  static_assert(version_store<Registry, Model>, "pipeline: Registry must be a version_store");

 public:
  /// The type of every model, production and challengers alike.
  using model_type = Model;
  /// Scalar of features, targets and predictions: the model's.
  using scalar_type = typename Model::scalar_type;
  /// Feature vector: the model's (dim() rows).
  using vector_type = typename Model::vector_type;
  /// What observe() takes: features, target, time and an optional traffic-split key.
  using sample_type = sample<scalar_type, vector_type::RowsAtCompileTime>;
  static_assert(feature_transform<Transform, vector_type>,
                "pipeline: Transform must be a feature_transform of the model's vectors");

  /// Index value meaning "no model".
  static constexpr std::size_t none = static_cast<std::size_t>(-1);

  /// Builds a pipeline. models[0] is the first production model; all must have one
  /// dimension. `names` (optional, one per model) are used in event reasons.
  /// Errors: invalid options, no model, more than 64 models, differing dimensions, a names
  /// list of another length.
  [[nodiscard]] static result<pipeline> make(const pipeline_options& opt, std::vector<Model> models,
                                             Detector detector, Gate gate, Rollout rollout,
                                             Transform transform = Transform{},
                                             Sink sink = Sink{},
                                             std::vector<std::string> names = {}) {
    if (auto ok = validate(opt); !ok) return ok.error();
    if (models.empty() || models.size() > 64)
      return fail(errc::invalid_argument, "pipeline: models must have 1 to 64 entries, got " +
                                              std::to_string(models.size()));
    const Eigen::Index d = models.front().dim();
    for (std::size_t i = 1; i < models.size(); ++i) {
      if (models[i].dim() != d)
        return fail(errc::invalid_argument,
                    "pipeline: models[" + std::to_string(i) + "] has dimension " +
                        std::to_string(models[i].dim()) + ", models[0] has " + std::to_string(d));
    }
    if (!names.empty() && names.size() != models.size())
      return fail(errc::invalid_argument, "pipeline: names must have one entry per model (" +
                                              std::to_string(models.size()) + "), got " +
                                              std::to_string(names.size()));
    if (rollout.phase() != rollout_phase::pending)
      return fail(errc::invalid_argument, "pipeline: the rollout must be pending (not started)");
    evidence_collector_options eo;
    eo.sequential = opt.sequential;
    auto collector = evidence_collector::make(eo);
    if (!collector) return collector.error();
    traffic_split_options so;
    so.name = opt.split_name;
    so.seed = opt.seed;
    so.weights = {1.0};
    auto split = traffic_split::make(so);
    if (!split) return split.error();
    if (names.empty()) {
      for (std::size_t i = 0; i < models.size(); ++i) names.push_back("model " + std::to_string(i));
    }
    return pipeline(opt, std::move(models), std::move(names), std::move(detector),
                    std::move(gate), std::move(rollout), std::move(transform), std::move(sink),
                    std::move(*collector), std::move(*split), d);
  }

  /// Copies every model, statistic, counter and the sink; the copy shares the registry set
  /// by set_registry() (it is not owned), so both publish to it. Allocates.
  pipeline(const pipeline&) = default;
  /// Takes the other's state; the moved-from pipeline may only be assigned or destroyed.
  pipeline(pipeline&&) noexcept = default;
  /// Copy assignment, with the copy constructor's sharing of the registry. Allocates.
  pipeline& operator=(const pipeline&) = default;
  /// Move assignment; the moved-from pipeline may only be assigned or destroyed.
  pipeline& operator=(pipeline&&) noexcept = default;

  /// Publishes promotions to `r` (not owned; must outlive the pipeline; nullptr: none).
  void set_registry(Registry* r) noexcept { registry_ = r; }

  /// Serves, scores, learns, monitors and deploys one sample (see the class comment).
  /// @return status::ok; or dimension_mismatch, non_finite_input, out_of_order, or the
  ///         transform's status, with every piece of state unchanged, except after
  ///         not_ready from the transform: the transform has learnt from x (its warm-up),
  ///         the time is kept for the order check and the sample is in the fingerprint;
  ///         nothing else has changed.
  [[nodiscard]] status observe(const sample_type& s, observation& out) noexcept {
    if (s.x.size() != dim_) return status::dimension_mismatch;
    if (!std::isfinite(static_cast<double>(s.y)) || !finite(s.x) || !std::isfinite(s.time))
      return status::non_finite_input;
    if (timed_ && s.time < last_time_) return status::out_of_order;

    const vector_type* z = &s.x;
    if constexpr (!std::is_same_v<Transform, identity_transform>) {
      if (const status st = transform_.transform(s.x, z_); st != status::ok) {
        // A transform still warming up (online_standardizer before its first samples) learns
        // from x, or it would never become ready; nothing else sees the sample.
        if (st == status::not_ready && transform_.update(s.x) == status::ok) {
          last_time_ = s.time;  // later samples keep time order with the warm-up's
          timed_ = true;
          if (opt_.fingerprint) fingerprint_.add(s.x, s.y);
        }
        return st;
      }
      z = &z_;
    }
    for (std::size_t i = 0; i < models_.size(); ++i)
      pred_[i] = static_cast<double>(models_[i].predict(*z));

    // Serve: production, or the challenger on trial for its share of keys.
    std::size_t served = production_;
    if (candidate_ != none) {
      const double f = trial_.fraction();
      if (f >= 1.0) {
        served = candidate_;
      } else if (f > 0.0) {
        const bool canary = s.has_key ? split_.in_canary(s.key, f) : split_.random_in_canary(f);
        if (canary) served = candidate_;
      }
    }
    ++seen_;
    last_time_ = s.time;
    timed_ = true;
    out.prediction = pred_[served];
    out.model = static_cast<std::uint32_t>(served);
    out.version = version_[served];
    out.canary = served != production_;
    out.scored = seen_ > opt_.warmup;
    if (out.scored) score(s);

    out.learned = learns_now();
    if (out.learned) learn(*z, s);
    if (seen_ == (opt_.warmup > 0 ? opt_.warmup : 1)) first_publication(s);
    return status::ok;
  }

  /// observe() when the caller needs only the prediction.
  [[nodiscard]] status observe(const sample_type& s) noexcept {
    observation o;
    return observe(s, o);
  }

  // ---- state -----------------------------------------------------------------------------

  /// Number of models, production included: 1 to 64, fixed by make().
  [[nodiscard]] std::size_t size() const noexcept { return models_.size(); }
  /// Number of features every model takes (models[0].dim() at make()).
  [[nodiscard]] Eigen::Index dim() const noexcept { return dim_; }
  /// Model i in its live state (production's may have learnt past its published version).
  /// @pre i < size()
  [[nodiscard]] const Model& model(std::size_t i) const noexcept { return models_[i]; }
  /// Name of model i in event reasons: as given to make(), or "model <i>". @pre i < size()
  [[nodiscard]] const std::string& name(std::size_t i) const noexcept { return names_[i]; }
  /// Index of the production model.
  [[nodiscard]] std::size_t production() const noexcept { return production_; }
  /// Index of the challenger under trial, or `none`.
  [[nodiscard]] std::size_t candidate() const noexcept { return candidate_; }
  /// Published version of model i's latest publication (0: never published).
  [[nodiscard]] version_id version(std::size_t i) const noexcept { return version_[i]; }
  /// Prediction of model i on the latest sample.
  [[nodiscard]] double prediction(std::size_t i) const noexcept { return pred_[i]; }
  /// Loss of model i on the latest scored sample.
  [[nodiscard]] double loss(std::size_t i) const noexcept { return loss_[i]; }
  /// Evidence of challenger i against production, as a gate sees it.
  [[nodiscard]] evidence evidence_for(std::size_t i) const noexcept { return make_evidence(i); }
  /// Samples observed (accepted by observe()).
  [[nodiscard]] std::uint64_t samples() const noexcept { return seen_; }
  /// Updates model i refused (numerical failure; its state stayed as it was).
  [[nodiscard]] std::uint64_t update_failures(std::size_t i) const noexcept {
    return failures_[i];
  }
  /// Trials that completed: a challenger became production (the initial version after the
  /// warm-up is not counted).
  [[nodiscard]] std::uint64_t promotions() const noexcept { return promotions_; }
  /// Trials that ended without a promotion (rolled back by the rollout's gate or aborted).
  [[nodiscard]] std::uint64_t withdrawals() const noexcept { return withdrawals_; }
  /// Drifts the detector found in production's loss (warnings not counted); each one resets
  /// the detector and, by update_policy::on_drift, the challengers not on trial.
  [[nodiscard]] std::uint64_t drifts() const noexcept { return drifts_; }
  /// The current trial's rollout (meaningful while candidate() != none).
  [[nodiscard]] const Rollout& trial() const noexcept { return trial_; }
  /// The drift detector on production's loss; reset after each drift and each promotion.
  [[nodiscard]] const Detector& detector() const noexcept { return detector_; }
  /// The feature transform, with the statistics learnt so far.
  [[nodiscard]] const Transform& transform() const noexcept { return transform_; }
  /// The event sink the pipeline holds by value (e.g. to read what a recording sink kept).
  [[nodiscard]] Sink& sink() noexcept { return sink_; }
  /// The options the pipeline was made with (validated by make()).
  [[nodiscard]] const pipeline_options& options() const noexcept { return opt_; }
  /// Fingerprint of the samples the pipeline learnt from (lineage of its versions).
  [[nodiscard]] const sample_fingerprint& fingerprint() const noexcept { return fingerprint_; }

 private:
  pipeline(const pipeline_options& opt, std::vector<Model> models, std::vector<std::string> names,
           Detector detector, Gate gate, Rollout rollout, Transform transform, Sink sink,
           evidence_collector collector, traffic_split split, Eigen::Index d)
      : opt_(opt),
        models_(std::move(models)),
        names_(std::move(names)),
        detector_(std::move(detector)),
        gate_(std::move(gate)),
        proto_(rollout),
        trial_(std::move(rollout)),
        transform_(std::move(transform)),
        sink_(std::move(sink)),
        split_(std::move(split)),
        dim_(d) {
    const std::size_t k = models_.size();
    z_ = vector_type::Zero(d);
    pred_.assign(k, 0.0);
    loss_.assign(k, 0.0);
    evidence_.assign(k, collector);
    failures_.assign(k, 0);
    version_.assign(k, 0);
  }

  template <class V>
  static bool finite(const V& v) noexcept {
    for (Eigen::Index i = 0; i < v.size(); ++i)
      if (!std::isfinite(static_cast<double>(v[i]))) return false;
    return true;
  }

  [[nodiscard]] bool learns_now() const noexcept {
    if (seen_ <= opt_.warmup) return true;
    switch (opt_.policy.schedule) {
      case update_schedule::every_sample: return true;
      case update_schedule::every_n: return seen_ % opt_.policy.every_n == 0;
      case update_schedule::frozen: return false;
    }
    return false;
  }

  void learn(const vector_type& z, const sample_type& s) noexcept {
    for (std::size_t i = 0; i < models_.size(); ++i)
      if (models_[i].update(z, s.y) != status::ok) ++failures_[i];
    if constexpr (!std::is_same_v<Transform, identity_transform>) {
      // A refused transform update (it validated x already) leaves its statistics as they were.
      static_cast<void>(transform_.update(s.x));
    }
    if (opt_.fingerprint) fingerprint_.add(s.x, s.y);
  }

  void emit(event_kind k, const sample_type& s, std::size_t model, double value,
            const reason_text& why) noexcept {
    event e{k, seen_, s.time, model < version_.size() ? version_[model] : 0,
            static_cast<std::uint32_t>(model), value, why};
    sink_.on_event(e);
  }

  // Step 4-6 of observe(): evidence, drift, gate and rollout.
  void score(const sample_type& s) noexcept {
    const std::size_t k = models_.size();
    const double y = static_cast<double>(s.y);
    for (std::size_t i = 0; i < k; ++i) loss_[i] = loss_of(opt_.loss, y, pred_[i]);
    const double lp = loss_[production_];
    for (std::size_t i = 0; i < k; ++i) {
      if (i == production_) continue;
      // Non-finite losses (a broken model) are refused by the evidence: the sanity gate
      // sees the prediction itself.
      static_cast<void>(evidence_[i].add(lp, loss_[i]));
    }
    if (std::isfinite(lp)) {
      // A plain sum (the mean is formed when a gate asks): no division per sample. Losses
      // since a promotion are bounded in number by the stream, and a double sum of them
      // loses relative accuracy only as n * eps, far below what a gate resolves.
      ++production_n_;
      production_sum_ += lp;
      if (detector_.update(lp) == status::ok) watch_drift(s);
    }

    if (candidate_ != none) {
      advance_trial(s);
    } else if (k > 1 && ++since_gate_ >= opt_.gate_interval) {
      since_gate_ = 0;
      consider_challengers(s);
    }
  }

  void watch_drift(const sample_type& s) noexcept {
    const drift_state st = detector_.state();
    if (st == drift_state::warning && last_drift_state_ != drift_state::warning) {
      reason_text r("warning on the loss of ");
      r.append(names_[production_]).append(" (production)");
      emit(event_kind::drift_warning, s, production_, loss_[production_], r);
    }
    last_drift_state_ = st;
    if (st != drift_state::drift) return;
    ++drifts_;
    reason_text r("drift in the loss of ");
    r.append(names_[production_]).append(" (production); ");
    std::uint64_t touched = 0;
    const drift_action act = opt_.policy.on_drift;
    for (std::size_t i = 0; i < models_.size(); ++i) {
      if (i == production_ || i == candidate_ || act == drift_action::none) continue;
      bool reseeded = false;
      if constexpr (seedable_model<Model>) {
        if (act == drift_action::reseed)
          reseeded = models_[i].seed_from(models_[production_]) == status::ok;
      }
      if (!reseeded) models_[i].reset();
      evidence_[i].reset();
      ++touched;
    }
    if (act == drift_action::none || touched == 0) {
      r.append("no action");
    } else {
      r.append(act == drift_action::reseed ? "re-seeded " : "reset ")
          .append(touched)
          .append(touched == 1 ? " challenger" : " challengers");
    }
    emit(event_kind::drift, s, production_, loss_[production_], r);
    detector_.reset();
    last_drift_state_ = drift_state::none;
  }

  // The evidence of challenger c against production on the samples paired so far.
  [[nodiscard]] evidence make_evidence(std::size_t c) const noexcept {
    evidence e;
    e.sample_index = seen_;
    e.time = last_time_;
    evidence_[c].fill(e);
    e.production_samples = production_n_;
    e.production_loss = production_n_ > 0
                            ? production_sum_ / static_cast<double>(production_n_)
                            : evidence::not_measured;
    e.production_baseline = baseline_;
    if constexpr (requires(const Model& m) { m.coefficients_finite(); }) {
      e.coefficients_finite = models_[c].coefficients_finite();
    } else if constexpr (requires(const Model& m) { m.coefficients(); }) {
      e.coefficients_finite = finite(models_[c].coefficients());
    }
    e.has_prediction = true;
    e.last_prediction = pred_[c];
    e.prediction_min = opt_.prediction_min;
    e.prediction_max = opt_.prediction_max;
    return e;
  }

  // No trial running: ask the gate about the challenger with the best paired evidence.
  void consider_challengers(const sample_type& s) noexcept {
    std::size_t best = none;
    double best_gain = -std::numeric_limits<double>::infinity();
    for (std::size_t i = 0; i < models_.size(); ++i) {
      const paired_evidence& p = evidence_[i].paired();
      if (i == production_ || p.n() == 0) continue;
      // mean_difference = champion - challenger: larger is better for the challenger.
      const double gain = p.mean_difference();
      if (gain > best_gain) {
        best_gain = gain;
        best = i;
      }
    }
    if (best == none) return;
    const evidence e = make_evidence(best);
    const decision d = gate_.evaluate(e);
    if (d.action == gate_action::hold) return;
    emit(event_kind::gate_decision, s, best, e.diff_mean, d.reason);
    if (d.action == gate_action::rollback) {
      // The gate refuses this challenger: its evidence starts again. A broken one (NaN or
      // infinite coefficients or prediction) also goes back to its prior, since learning
      // on cannot repair it.
      evidence_[best].reset();
      if (!e.coefficients_finite || !std::isfinite(e.last_prediction)) {
        models_[best].reset();
        reason_text r("reset after the gate refused it as broken: ");
        r.append(d.reason.view());
        emit(event_kind::model_reset, s, best, 0.0, r);
      }
      return;
    }
    // The trial is a new experiment: its evidence starts empty, so the rollout's gate judges
    // only what the challenger does on trial. (Carried over, an always-valid p-value that
    // fell while the challenger was better would stay low, and a later dip of the mean
    // below zero would read as "significantly worse".)
    candidate_ = best;
    evidence_[best].reset();
    trial_ = proto_;
    event_callback cb{this, &pipeline::relay};
    trial_.start(make_evidence(best), cb);
    settle_trial(s);
  }

  void advance_trial(const sample_type& s) noexcept {
    const evidence e = make_evidence(candidate_);
    event_callback cb{this, &pipeline::relay};
    static_cast<void>(trial_.observe(e, cb));
    settle_trial(s);
  }

  // Acts on a finished trial: promotion, or back to challenger.
  void settle_trial(const sample_type& s) noexcept {
    const rollout_phase ph = trial_.phase();
    if (!is_finished(ph)) return;
    const std::size_t c = candidate_;
    candidate_ = none;
    if (ph == rollout_phase::completed) {
      const paired_evidence& p = evidence_[c].paired();
      baseline_ = p.n() > 0 ? p.mean_challenger() : evidence::not_measured;
      version_[production_] = 0;  // retired: its live state moves on from the version
      production_ = c;
      production_n_ = 0;
      production_sum_ = 0.0;
      ++promotions_;
      for (auto& ev : evidence_) ev.reset();
      detector_.reset();
      last_drift_state_ = drift_state::none;
    } else {
      ++withdrawals_;
      evidence_[c].reset();
    }
    static_cast<void>(s);
  }

  // Rollout events: stamped with the candidate's index; a promotion is published first so
  // the event carries the new version.
  static void relay(void* self, const event& e) noexcept {
    auto* p = static_cast<pipeline*>(self);
    event out = e;
    out.model = static_cast<std::uint32_t>(p->candidate_);
    out.version = 0;  // a challenger's state is unpublished until its promotion
    if (e.kind == event_kind::promoted) {
      p->publish(p->candidate_, e.reason.view());
      out.version = p->version_[p->candidate_];
    }
    p->sink_.on_event(out);
  }

  // Publishes model i and makes it production in the registry. A registry that refuses
  // (or runs out of memory) leaves the version at 0: serving goes on from the model itself.
  // LIMITATION: publishing to a registry copies the model and allocates (on a promotion,
  // not per sample); the lineage's samples and fingerprint are those of the whole stream the
  // pipeline learnt from, not of the model's own history (a challenger reset by a drift
  // learnt from a suffix of it).
  void publish(std::size_t i, std::string_view why) noexcept {
    lineage l;
    l.parent = version_[production_];
    l.samples = fingerprint_.samples();
    l.fingerprint = fingerprint_.value();
    l.created = last_time_;
    version_[i] = 0;
    if (registry_ == nullptr) {
      version_[i] = *fallback_.publish(models_[i], l, why);
      return;
    }
#if defined(__cpp_exceptions)
    try {
#endif
      auto v = registry_->publish(models_[i], std::move(l), why);
      if (v && registry_->promote(*v, why)) version_[i] = *v;
#if defined(__cpp_exceptions)
    } catch (...) {
      // The registry could not store the version (out of memory): serving goes on from the
      // model itself, with version 0 in events.
    }
#endif
  }

  void first_publication(const sample_type& s) noexcept {
    reason_text r("initial version after a warm-up of ");
    r.append(opt_.warmup).append(" samples");
    publish(production_, r.view());
    emit(event_kind::promoted, s, production_, 1.0, r);
  }

  pipeline_options opt_;
  std::vector<Model> models_;
  std::vector<std::string> names_;
  Detector detector_;
  Gate gate_;
  Rollout proto_;
  Rollout trial_;
  Transform transform_;
  Sink sink_;
  traffic_split split_;
  Registry* registry_{nullptr};
  no_registry fallback_{};
  Eigen::Index dim_{0};
  vector_type z_;
  std::vector<double> pred_;
  std::vector<double> loss_;
  std::vector<evidence_collector> evidence_;
  std::vector<std::uint64_t> failures_;
  std::vector<version_id> version_;
  std::size_t production_{0};
  std::size_t candidate_{none};
  std::uint64_t production_n_{0};
  double production_sum_{0.0};
  double baseline_{evidence::not_measured};
  std::uint64_t seen_{0};
  std::uint64_t since_gate_{0};
  double last_time_{0.0};
  bool timed_{false};  // whether last_time_ holds a sample's time (warm-up included)
  drift_state last_drift_state_{drift_state::none};
  std::uint64_t promotions_{0};
  std::uint64_t withdrawals_{0};
  std::uint64_t drifts_{0};
  sample_fingerprint fingerprint_{};
};

}  // namespace livefit

#endif  // LIVEFIT_PIPELINE_PIPELINE_HPP
