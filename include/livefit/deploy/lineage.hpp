// Data lineage of a model version: parent, time, samples, fingerprint, figures and tags.
#ifndef LIVEFIT_DEPLOY_LINEAGE_HPP
#define LIVEFIT_DEPLOY_LINEAGE_HPP

#include <bit>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "livefit/core/concepts.hpp"
#include "livefit/core/serialize.hpp"
#include "livefit/core/status.hpp"

namespace livefit {

/// Number of a version in a registry: 1, 2, 3... in publication order; 0 means none.
using version_id = std::uint64_t;

/// A streaming 64-bit fingerprint of an ordered sequence of samples (x, y), identical on
/// every platform and compiler ("livefit fingerprint 1", specified in
/// docs/checkpoint-format.md, section "Sample fingerprint").
///
/// Each scalar becomes one 64-bit word: the IEEE-754 bit pattern of a double, or of a float
/// zero-extended (so the words are what a little-endian reader of the scalar's bytes gets,
/// whatever the host's byte order). The words of a sample are x[0], ..., x[d-1], then y.
/// Each word goes through the round and merge step of XXH64 (Y. Collet, xxHash
/// specification, "XXH64 algorithm", steps 4 and 5 for 8-byte tails); value() appends the
/// word count and applies the XXH64 avalanche. It is an identifier, not a cryptographic hash:
/// it tells replays and data sets apart, it does not resist a forger.
///
/// Cost: about 2 ns per scalar (a serial multiply chain); add() is noexcept, allocation-free.
class sample_fingerprint {
 public:
  static constexpr std::uint64_t prime1 = 0x9E3779B185EBCA87ull;  ///< XXH64 PRIME64_1.
  static constexpr std::uint64_t prime2 = 0xC2B2AE3D27D4EB4Full;  ///< XXH64 PRIME64_2.
  static constexpr std::uint64_t prime3 = 0x165667B19E3779F9ull;  ///< XXH64 PRIME64_3.
  static constexpr std::uint64_t prime4 = 0x85EBCA77C2B2AE63ull;  ///< XXH64 PRIME64_4.
  static constexpr std::uint64_t prime5 = 0x27D4EB2F165667C5ull;  ///< XXH64 PRIME64_5.

  /// Absorbs one sample. @pre x is a column vector of float or double, y of the same type.
  template <class Derived>
  void add(const Eigen::MatrixBase<Derived>& x, typename Derived::Scalar y) noexcept {
    for (Eigen::Index i = 0; i < x.size(); ++i) add_word(word(x(i)));
    add_word(word(y));
    ++samples_;
  }

  /// The fingerprint of the samples absorbed so far (does not change the state).
  [[nodiscard]] std::uint64_t value() const noexcept {
    std::uint64_t h = state_ ^ (words_ * prime1);
    h ^= h >> 33;
    h *= prime2;
    h ^= h >> 29;
    h *= prime3;
    h ^= h >> 32;
    return h;
  }

  /// Samples absorbed so far.
  [[nodiscard]] std::uint64_t samples() const noexcept { return samples_; }

  /// Back to the fingerprint of no samples.
  void reset() noexcept { *this = sample_fingerprint{}; }

  /// Writes the running state (so a checkpointed trainer resumes the same fingerprint).
  void save_state(byte_writer& w) const {
    w.put_u64(state_);
    w.put_u64(words_);
    w.put_u64(samples_);
  }
  /// Reads what save_state wrote; on failure nothing changes.
  [[nodiscard]] status load_state(byte_reader& r) noexcept {
    std::uint64_t s = 0, w = 0, n = 0;
    if (!r.get_u64(s) || !r.get_u64(w) || !r.get_u64(n) || n > w) return status::invalid_argument;
    state_ = s;
    words_ = w;
    samples_ = n;
    return status::ok;
  }

  /// Equal when the running states are (same samples so far, with overwhelming probability).
  friend bool operator==(const sample_fingerprint&, const sample_fingerprint&) = default;

 private:
  template <class Scalar>
  static std::uint64_t word(Scalar v) noexcept {
    static_assert(std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>,
                  "sample_fingerprint hashes float or double scalars only");
    if constexpr (std::is_same_v<Scalar, float>)
      return std::bit_cast<std::uint32_t>(v);
    else
      return std::bit_cast<std::uint64_t>(v);
  }

  void add_word(std::uint64_t w) noexcept {
    const std::uint64_t k = std::rotl(w * prime2, 31) * prime1;
    state_ = std::rotl(state_ ^ k, 27) * prime1 + prime4;
    ++words_;
  }

  std::uint64_t state_{prime5};
  std::uint64_t words_{0};
  std::uint64_t samples_{0};
};

/// A regressor that records the fingerprint of the samples it actually learnt from.
///
/// A sample the model refuses (NaN, wrong size) changes neither the model nor the
/// fingerprint, so the fingerprint always describes the data behind the coefficients.
/// Meets `regressor` when Model does.
template <class Model>
class fingerprinted {
 public:
  using scalar_type = typename Model::scalar_type;  ///< The model's scalar type.
  using vector_type = typename Model::vector_type;  ///< The model's feature vector type.

  /// Wraps a model (a fresh one, or the parent version a child is trained from).
  explicit fingerprinted(Model m) : model_(std::move(m)) {}

  /// Updates the model, then the fingerprint if the model accepted the sample.
  [[nodiscard]] status update(const vector_type& x, scalar_type y) noexcept {
    const status s = model_.update(x, y);
    if (s == status::ok) fingerprint_.add(x, y);
    return s;
  }
  /// The model's prediction for x.
  [[nodiscard]] auto predict(const vector_type& x) const noexcept { return model_.predict(x); }
  /// The model's dimension.
  [[nodiscard]] auto dim() const noexcept { return model_.dim(); }

  /// The wrapped model.
  [[nodiscard]] const Model& model() const noexcept { return model_; }
  /// The fingerprint of the samples the model accepted.
  [[nodiscard]] const sample_fingerprint& fingerprint() const noexcept { return fingerprint_; }

 private:
  Model model_;
  sample_fingerprint fingerprint_{};
};

/// A named evaluation figure ("rmse", "mae", "p_value"...) recorded with a version.
struct figure {
  std::string name;    ///< What was measured, e.g. "rmse".
  double value{0.0};   ///< Its value.
  /// Equal when name and value are.
  friend bool operator==(const figure&, const figure&) = default;
};

/// What a version says about its origin. Supplied to publish(); the registry fills
/// `created` when it is 0. Off the hot path (it owns strings).
struct lineage {
  version_id parent{0};               ///< Version this one was trained from; 0 when none.
  double created{0.0};                ///< When it was made: registry clock, seconds.
  std::uint64_t samples{0};           ///< Samples that trained it (since `parent`).
  std::uint64_t fingerprint{0};       ///< sample_fingerprint::value() of those samples.
  std::vector<figure> figures;        ///< Evaluation figures that got it promoted.
  std::vector<std::string> tags;      ///< Free-form tags ("instrument=ES", "trainer=nightly").

  /// Fills parent, samples and fingerprint from a trainer's fingerprint.
  static lineage from(version_id parent_version, const sample_fingerprint& fp) {
    lineage l;
    l.parent = parent_version;
    l.samples = fp.samples();
    l.fingerprint = fp.value();
    return l;
  }

  /// Equal when every field is.
  friend bool operator==(const lineage&, const lineage&) = default;
};

namespace detail {

/// Bounds on what a lineage read from disk may hold, so a damaged file cannot make the
/// loader allocate without bound.
inline constexpr std::uint32_t max_lineage_items = 4096;

/// Appends a lineage to a manifest (layout in docs/checkpoint-format.md).
inline void write_lineage(byte_writer& w, const lineage& l) {
  w.put_u64(l.parent);
  w.put_f64(l.created);
  w.put_u64(l.samples);
  w.put_u64(l.fingerprint);
  w.put_u32(static_cast<std::uint32_t>(l.figures.size()));
  for (const auto& f : l.figures) {
    w.put_string(f.name);
    w.put_f64(f.value);
  }
  w.put_u32(static_cast<std::uint32_t>(l.tags.size()));
  for (const auto& t : l.tags) w.put_string(t);
}

/// Reads what write_lineage wrote; false on truncated or implausible input.
[[nodiscard]] inline bool read_lineage(byte_reader& r, lineage& l) {
  std::uint32_t n = 0;
  std::string_view s;
  if (!r.get_u64(l.parent) || !r.get_f64(l.created) || !r.get_u64(l.samples) ||
      !r.get_u64(l.fingerprint) || !r.get_u32(n) || n > max_lineage_items)
    return false;
  l.figures.clear();
  for (std::uint32_t i = 0; i < n; ++i) {
    figure f;
    if (!r.get_string(s) || !r.get_f64(f.value)) return false;
    f.name.assign(s);
    l.figures.push_back(std::move(f));
  }
  if (!r.get_u32(n) || n > max_lineage_items) return false;
  l.tags.clear();
  for (std::uint32_t i = 0; i < n; ++i) {
    if (!r.get_string(s)) return false;
    l.tags.emplace_back(s);
  }
  return true;
}

}  // namespace detail

}  // namespace livefit

#endif  // LIVEFIT_DEPLOY_LINEAGE_HPP
