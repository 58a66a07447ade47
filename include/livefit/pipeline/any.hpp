// Type-erased components for run-time composition: any_regressor, any_detector,
// any_rollout, any_transform (deploy/gate_combinators.hpp has any_gate).
//
// A pipeline built from a configuration holds these instead of concrete types; the erasure
// sits only at the component boundary (one virtual call per component call), the pipeline's
// own logic is the same code as the compile-time form. Construction and copies allocate; the
// per-sample calls do not (copy-assignment between two wrappers of the same type copies in
// place, so a pipeline starting a trial from its rollout prototype does not allocate).
#ifndef LIVEFIT_PIPELINE_ANY_HPP
#define LIVEFIT_PIPELINE_ANY_HPP

#include <cmath>
#include <memory>
#include <string_view>
#include <type_traits>
#include <utility>

#include <Eigen/Core>

#include "livefit/core/concepts.hpp"
#include "livefit/core/events.hpp"
#include "livefit/core/serialize.hpp"
#include "livefit/core/status.hpp"
#include "livefit/deploy/evidence.hpp"
#include "livefit/deploy/gate_combinators.hpp"
#include "livefit/pipeline/pipeline.hpp"

namespace livefit {

namespace detail {

// A per-type address that tells two erased wrappers of the same concrete type apart from
// others without RTTI (works with -fno-rtti).
template <class T>
inline constexpr char type_tag = 0;

template <class V>
[[nodiscard]] bool all_finite_values(const V& v) noexcept {
  for (Eigen::Index i = 0; i < v.size(); ++i)
    if (!std::isfinite(static_cast<double>(v[i]))) return false;
  return true;
}

// Copy-on-copy ownership of an erased implementation; assignment between wrappers of the
// same concrete type copies in place (no allocation).
template <class Iface>
class erased {
 public:
  erased() = default;
  explicit erased(std::unique_ptr<Iface> p) : p_(std::move(p)) {}
  erased(const erased& o) : p_(o.p_ ? o.p_->clone() : nullptr) {}
  erased(erased&&) noexcept = default;
  erased& operator=(const erased& o) {
    if (this == &o) return *this;
    if (p_ && o.p_ && p_->tag() == o.p_->tag()) {
      p_->assign(*o.p_);
    } else {
      p_ = o.p_ ? o.p_->clone() : nullptr;
    }
    return *this;
  }
  erased& operator=(erased&&) noexcept = default;
  Iface* get() const noexcept { return p_.get(); }
  Iface* operator->() const noexcept { return p_.get(); }

 private:
  std::unique_ptr<Iface> p_;
};

}  // namespace detail

/// Any regressor with the given scalar and dimension, behind one type: the models of a
/// pipeline built from a configuration (RLS, NLMS, decayed least squares side by side).
///
/// reset() forwards; seed_from() works between wrappers of the same concrete type that has
/// seed_from (else status::invalid_argument, and the pipeline resets instead). Checkpoints
/// write the concrete type's checkpoint_type, then its state; loading checks that type.
/// LIMITATION: a checkpoint loads only into a wrapper of the same concrete type (a registry
/// restored from a directory needs a prototype of the models' one type).
template <class Scalar, int D = Eigen::Dynamic>
class any_regressor {
 public:
  /// Scalar of features, targets and predictions (float or double), the wrapped model's.
  using scalar_type = Scalar;
  /// Feature vector: D rows, or dim() rows set at run time when D is Eigen::Dynamic.
  using vector_type = Eigen::Matrix<Scalar, D, 1>;
  /// Name of the wrapper in checkpoint headers; the state behind it starts with the wrapped
  /// model's own checkpoint_type (see save_state()).
  static constexpr std::string_view checkpoint_type = "livefit.any_regressor";

  /// Wraps a model. @pre M is a regressor over the same vector type with reset().
  template <class M>
    requires(!std::same_as<std::remove_cvref_t<M>, any_regressor> &&
             pipeline_model<std::remove_cvref_t<M>>)
  explicit any_regressor(M&& m)
      : impl_(std::make_unique<model<std::remove_cvref_t<M>>>(std::forward<M>(m))) {}

  /// The wrapped model's prediction for x, converted to scalar_type: one virtual call, no
  /// allocation. @pre x.size() == dim()
  [[nodiscard]] scalar_type predict(const vector_type& x) const noexcept {
    return impl_->predict(x);
  }
  /// Lets the wrapped model learn from (x, y).
  /// @return status::ok; or the model's refusal (NaN or infinite input, wrong size, a broken
  ///         numerical invariant) with its state bit-identical to before the call.
  [[nodiscard]] status update(const vector_type& x, scalar_type y) noexcept {
    return impl_->update(x, y);
  }
  /// Number of features the wrapped model takes (fixed when it was made).
  [[nodiscard]] Eigen::Index dim() const noexcept { return impl_->dim(); }
  /// Returns the wrapped model to its prior (its own reset()), keeping its settings.
  void reset() noexcept { impl_->reset(); }
  /// Makes the wrapped model take `other`'s learnt state, keeping its own settings (the
  /// drift_action::reseed path).
  /// @return status::ok; status::invalid_argument, changing nothing, when `other` wraps
  ///         another concrete type or the type has no seed_from() (callers reset instead);
  ///         or the model's own refusal.
  [[nodiscard]] status seed_from(const any_regressor& other) noexcept {
    return impl_->seed_from(*other.impl_.get());
  }
  /// False when a coefficient is NaN or infinite (true for models without coefficients()).
  [[nodiscard]] bool coefficients_finite() const noexcept { return impl_->coefficients_finite(); }
  /// The concrete model's checkpoint type ("livefit.rls"), or "" when it has none.
  [[nodiscard]] std::string_view model_type() const noexcept { return impl_->model_type(); }

  /// Appends the concrete model's checkpoint_type (a length-prefixed string, "" for a model
  /// that is not checkpointable), then the model's state. May allocate (`w` grows).
  void save_state(byte_writer& w) const {
    w.put_string(impl_->model_type());
    impl_->save_state(w);
  }
  /// Reads what save_state() wrote.
  /// @return status::ok with the state restored; status::invalid_argument when the stored
  ///         type is not the wrapped model's (or the model is not checkpointable); or the
  ///         model's own error. On failure the model is unchanged.
  [[nodiscard]] status load_state(byte_reader& r) {
    std::string_view type;
    if (!r.get_string(type) || type != impl_->model_type()) return status::invalid_argument;
    return impl_->load_state(r);
  }

  /// The wrapped model when it is an M, else nullptr.
  template <class M>
  [[nodiscard]] const M* target() const noexcept {
    return impl_->tag() == &detail::type_tag<M> ? &static_cast<const model<M>*>(impl_.get())->m
                                                : nullptr;
  }

 private:
  struct iface {
    virtual ~iface() = default;
    virtual scalar_type predict(const vector_type& x) const noexcept = 0;
    virtual status update(const vector_type& x, scalar_type y) noexcept = 0;
    virtual Eigen::Index dim() const noexcept = 0;
    virtual void reset() noexcept = 0;
    virtual status seed_from(const iface& o) noexcept = 0;
    virtual bool coefficients_finite() const noexcept = 0;
    virtual std::string_view model_type() const noexcept = 0;
    virtual void save_state(byte_writer& w) const = 0;
    virtual status load_state(byte_reader& r) = 0;
    virtual const void* tag() const noexcept = 0;
    virtual std::unique_ptr<iface> clone() const = 0;
    virtual void assign(const iface& o) = 0;
  };

  template <class M>
  struct model final : iface {
    explicit model(M v) : m(std::move(v)) {}
    scalar_type predict(const vector_type& x) const noexcept override {
      return static_cast<scalar_type>(m.predict(x));
    }
    status update(const vector_type& x, scalar_type y) noexcept override { return m.update(x, y); }
    Eigen::Index dim() const noexcept override { return static_cast<Eigen::Index>(m.dim()); }
    void reset() noexcept override { m.reset(); }
    status seed_from(const iface& o) noexcept override {
      if (o.tag() != tag()) return status::invalid_argument;
      if constexpr (seedable_model<M>) {
        return m.seed_from(static_cast<const model&>(o).m);
      } else {
        return status::invalid_argument;
      }
    }
    bool coefficients_finite() const noexcept override {
      if constexpr (requires { m.coefficients(); }) {
        return detail::all_finite_values(m.coefficients());
      } else {
        return true;
      }
    }
    std::string_view model_type() const noexcept override {
      if constexpr (checkpointable<M>) {
        return M::checkpoint_type;
      } else {
        return {};
      }
    }
    void save_state(byte_writer& w) const override {
      if constexpr (checkpointable<M>) m.save_state(w);
    }
    status load_state(byte_reader& r) override {
      if constexpr (checkpointable<M>) {
        return m.load_state(r);
      } else {
        static_cast<void>(r);
        return status::invalid_argument;
      }
    }
    const void* tag() const noexcept override { return &detail::type_tag<M>; }
    std::unique_ptr<iface> clone() const override { return std::make_unique<model>(m); }
    void assign(const iface& o) override { m = static_cast<const model&>(o).m; }
    M m;
  };

  detail::erased<iface> impl_;
};

/// Any drift detector behind one type.
class any_detector {
 public:
  /// Wraps `d` (moved or copied into one allocation). @pre Det is a drift_detector.
  template <class Det>
    requires(!std::same_as<std::remove_cvref_t<Det>, any_detector> &&
             drift_detector<std::remove_cvref_t<Det>>)
  explicit any_detector(Det&& d)
      : impl_(std::make_unique<model<std::remove_cvref_t<Det>>>(std::forward<Det>(d))) {}

  /// Feeds one value (in a pipeline: production's loss) to the wrapped detector.
  /// @return status::ok; or status::non_finite_input for NaN or infinite v, changing nothing.
  [[nodiscard]] status update(double v) noexcept { return impl_->update(v); }
  /// What the wrapped detector says after the latest update; drift only on the update that
  /// detected it.
  [[nodiscard]] drift_state state() const noexcept { return impl_->state(); }
  /// Returns the wrapped detector to its freshly constructed state (its settings kept).
  void reset() noexcept { impl_->reset(); }

  /// The wrapped detector when it is a Det, else nullptr.
  template <class Det>
  [[nodiscard]] const Det* target() const noexcept {
    return impl_->tag() == &detail::type_tag<Det>
               ? &static_cast<const model<Det>*>(impl_.get())->d
               : nullptr;
  }

 private:
  struct iface {
    virtual ~iface() = default;
    virtual status update(double v) noexcept = 0;
    virtual drift_state state() const noexcept = 0;
    virtual void reset() noexcept = 0;
    virtual const void* tag() const noexcept = 0;
    virtual std::unique_ptr<iface> clone() const = 0;
    virtual void assign(const iface& o) = 0;
  };
  template <class Det>
  struct model final : iface {
    explicit model(Det v) : d(std::move(v)) {}
    status update(double v) noexcept override { return d.update(v); }
    drift_state state() const noexcept override { return d.state(); }
    void reset() noexcept override { d.reset(); }
    const void* tag() const noexcept override { return &detail::type_tag<Det>; }
    std::unique_ptr<iface> clone() const override { return std::make_unique<model>(d); }
    void assign(const iface& o) override { d = static_cast<const model&>(o).d; }
    Det d;
  };
  detail::erased<iface> impl_;
};

/// A detector that never fires: for pipelines without drift monitoring.
struct no_detector {
  /// Ignores a finite v; refuses NaN or infinite v with status::non_finite_input, as the
  /// drift_detector contract asks of every detector.
  [[nodiscard]] status update(double v) noexcept {
    return std::isfinite(v) ? status::ok : status::non_finite_input;
  }
  /// Always drift_state::none.
  [[nodiscard]] drift_state state() const noexcept { return drift_state::none; }
  /// Does nothing: there is no state.
  void reset() noexcept {}
};

/// Any rollout over `evidence` behind one type. Its members take any event sink: the sink is
/// passed to the wrapped rollout through an event_callback (a function pointer, called only
/// on events).
class any_rollout {
 public:
  /// Wraps `r` (moved or copied into one allocation); a pipeline requires it pending.
  /// @pre R is a rollout over `evidence`.
  template <class R>
    requires(!std::same_as<std::remove_cvref_t<R>, any_rollout> &&
             rollout<std::remove_cvref_t<R>, evidence>)
  explicit any_rollout(R&& r)
      : impl_(std::make_unique<model<std::remove_cvref_t<R>>>(std::forward<R>(r))) {}

  /// Moves the wrapped rollout from pending to running and reports it to `sink` (any
  /// event_sink; an event_callback is passed through as it is).
  template <class Sink>
  void start(const evidence& e, Sink& sink) noexcept {
    event_callback cb = callback(sink);
    impl_->start(e, cb);
  }
  /// Advances the wrapped rollout by at most one step on the evidence so far, reporting
  /// every step and abort to `sink`.
  /// @return status::ok; or the rollout's status for invalid evidence, changing nothing.
  template <class Sink>
  [[nodiscard]] status observe(const evidence& e, Sink& sink) noexcept {
    event_callback cb = callback(sink);
    return impl_->observe(e, cb);
  }
  /// Stops stepping forward and holds the current fraction; automatic rollback stays on.
  void pause() noexcept { impl_->pause(); }
  /// Undoes pause(): the rollout steps forward again as its gate allows.
  void resume() noexcept { impl_->resume(); }
  /// Withdraws the challenger at once (phase aborted, fraction 0), reporting it to `sink`
  /// with `why` as the reason; no effect once the rollout has finished.
  template <class Sink>
  void abort(const reason_text& why, const evidence& e, Sink& sink) noexcept {
    event_callback cb = callback(sink);
    impl_->abort(why, e, cb);
  }
  /// Share of traffic the challenger serves, in [0, 1]; 0 in every end state but completed.
  [[nodiscard]] double fraction() const noexcept { return impl_->fraction(); }
  /// Where the wrapped rollout stands (pending until start()).
  [[nodiscard]] rollout_phase phase() const noexcept { return impl_->phase(); }

 private:
  template <class Sink>
  static event_callback callback(Sink& sink) noexcept {
    if constexpr (std::is_same_v<Sink, event_callback>) {
      return sink;
    } else {
      return event_callback{&sink, [](void* c, const event& ev) noexcept {
                              static_cast<Sink*>(c)->on_event(ev);
                            }};
    }
  }

  struct iface {
    virtual ~iface() = default;
    virtual void start(const evidence& e, event_callback& cb) noexcept = 0;
    virtual status observe(const evidence& e, event_callback& cb) noexcept = 0;
    virtual void pause() noexcept = 0;
    virtual void resume() noexcept = 0;
    virtual void abort(const reason_text& why, const evidence& e, event_callback& cb) noexcept = 0;
    virtual double fraction() const noexcept = 0;
    virtual rollout_phase phase() const noexcept = 0;
    virtual const void* tag() const noexcept = 0;
    virtual std::unique_ptr<iface> clone() const = 0;
    virtual void assign(const iface& o) = 0;
  };
  template <class R>
  struct model final : iface {
    explicit model(R v) : r(std::move(v)) {}
    void start(const evidence& e, event_callback& cb) noexcept override { r.start(e, cb); }
    status observe(const evidence& e, event_callback& cb) noexcept override {
      return r.observe(e, cb);
    }
    void pause() noexcept override { r.pause(); }
    void resume() noexcept override { r.resume(); }
    void abort(const reason_text& why, const evidence& e, event_callback& cb) noexcept override {
      r.abort(why, e, cb);
    }
    double fraction() const noexcept override { return static_cast<double>(r.fraction()); }
    rollout_phase phase() const noexcept override { return r.phase(); }
    const void* tag() const noexcept override { return &detail::type_tag<R>; }
    std::unique_ptr<iface> clone() const override { return std::make_unique<model>(r); }
    void assign(const iface& o) override { r = static_cast<const model&>(o).r; }
    R r;
  };
  detail::erased<iface> impl_;
};

/// Any feature transform over the given vectors behind one type; default: identity.
template <class Scalar, int D = Eigen::Dynamic>
class any_transform {
 public:
  /// Feature vector, input and output alike: D rows, or a run-time size when D is
  /// Eigen::Dynamic (a transform never changes the size).
  using vector_type = Eigen::Matrix<Scalar, D, 1>;

  /// The identity transform.
  any_transform() : impl_(std::make_unique<model<identity_transform>>(identity_transform{})) {}

  /// Wraps `t` (moved or copied into one allocation).
  /// @pre T is a feature_transform over vector_type.
  template <class T>
    requires(!std::same_as<std::remove_cvref_t<T>, any_transform> &&
             feature_transform<std::remove_cvref_t<T>, Eigen::Matrix<Scalar, D, 1>>)
  explicit any_transform(T&& t)
      : impl_(std::make_unique<model<std::remove_cvref_t<T>>>(std::forward<T>(t))) {}

  /// Writes the wrapped transform of x into z, with the statistics learnt so far; the
  /// transform itself does not change. @pre z has x's size (then nothing allocates).
  /// @return status::ok; or the transform's refusal, with z unspecified.
  [[nodiscard]] status transform(const vector_type& x, vector_type& z) const noexcept {
    return impl_->transform(x, z);
  }
  /// Lets the wrapped transform learn from x.
  /// @return status::ok; or its refusal, with its statistics unchanged.
  [[nodiscard]] status update(const vector_type& x) noexcept { return impl_->update(x); }

 private:
  struct iface {
    virtual ~iface() = default;
    virtual status transform(const vector_type& x, vector_type& z) const noexcept = 0;
    virtual status update(const vector_type& x) noexcept = 0;
    virtual const void* tag() const noexcept = 0;
    virtual std::unique_ptr<iface> clone() const = 0;
    virtual void assign(const iface& o) = 0;
  };
  template <class T>
  struct model final : iface {
    explicit model(T v) : t(std::move(v)) {}
    status transform(const vector_type& x, vector_type& z) const noexcept override {
      return t.transform(x, z);
    }
    status update(const vector_type& x) noexcept override { return t.update(x); }
    const void* tag() const noexcept override { return &detail::type_tag<T>; }
    std::unique_ptr<iface> clone() const override { return std::make_unique<model>(t); }
    void assign(const iface& o) override { t = static_cast<const model&>(o).t; }
    T t;
  };
  detail::erased<iface> impl_;
};

/// The run-time composed pipeline: models, detector, gate, rollout and transform chosen at
/// run time (e.g. from a configuration file), same observe() as the compile-time form.
template <class Scalar = double, class Sink = null_sink, class Registry = no_registry>
using dynamic_pipeline = pipeline<any_regressor<Scalar>, any_detector, any_gate, any_rollout,
                                  any_transform<Scalar>, Sink, Registry>;

}  // namespace livefit

#endif  // LIVEFIT_PIPELINE_ANY_HPP
