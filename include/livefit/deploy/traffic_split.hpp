// traffic_split: sticky assignment of request keys to arms (champion, canary, A/B arms).
//
// THE HASH (stable across runs, processes, compilers and platforms; no per-process seed):
//   h = FNV-1a 64 (offset 0xcbf29ce484222325, prime 0x100000001b3) over the bytes of
//       name + ":" + key, where a string key contributes its bytes and an integer key its 8
//       bytes in little-endian order;
//   h = fmix64(h), the MurmurHash3 64-bit finalizer (Appleby): h ^= h >> 33;
//       h *= 0xff51afd7ed558ccd; h ^= h >> 33; h *= 0xc4ceb9fe1a85ec53; h ^= h >> 33;
//   u = (h >> 11) * 2^-53, a uniform number in [0, 1) with 53 exact bits.
// FNV-1a alone mixes its last bytes poorly into the high bits ("user-1", "user-2" differ
// only in the last byte); the finalizer makes every input bit reach every output bit.
//
// A key is in a canary of fraction f when u < f. Thresholding one fixed number per (split,
// key) makes the canary monotone in f by construction: growing f only adds keys, and going
// back to an earlier f gives exactly the earlier set (case C21). f = 0 takes no key and
// f = 1 every key, exactly, since u < 1. Arms with weights split [0, 1) into consecutive
// intervals; the last arm with a positive weight ends at exactly 1, so no key falls
// through (case C21: a key at the very end of the last bucket still gets an arm).
//
// LIMITATION: only the two-arm canary is monotone as it grows. Changing the weights of an
// experiment with three or more arms moves interval bounds, and keys near a moved bound
// change arm; keep weights fixed for an experiment's life (or start a new split name).
#ifndef LIVEFIT_DEPLOY_TRAFFIC_SPLIT_HPP
#define LIVEFIT_DEPLOY_TRAFFIC_SPLIT_HPP

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "livefit/core/result.hpp"
#include "livefit/deploy/detail/gate_text.hpp"

namespace livefit {

/// The documented split hash, usable on its own (e.g. to check another implementation).
struct split_hash {
  /// FNV-1a 64 offset basis: the starting value of a hash (before the split name).
  static constexpr std::uint64_t fnv_offset = 0xcbf29ce484222325ULL;
  /// FNV-1a 64 prime: each byte is XORed in, then the hash is multiplied by it (mod 2^64).
  static constexpr std::uint64_t fnv_prime = 0x100000001b3ULL;

  /// Continues an FNV-1a 64 hash `h` over `bytes`.
  [[nodiscard]] static constexpr std::uint64_t fnv1a(std::uint64_t h,
                                                     std::string_view bytes) noexcept {
    for (char c : bytes) {
      h ^= static_cast<std::uint8_t>(c);
      h *= fnv_prime;
    }
    return h;
  }

  /// Continues an FNV-1a 64 hash over the 8 little-endian bytes of `v`.
  [[nodiscard]] static constexpr std::uint64_t fnv1a(std::uint64_t h, std::uint64_t v) noexcept {
    for (int i = 0; i < 8; ++i) {
      h ^= (v >> (8 * i)) & 0xFFu;
      h *= fnv_prime;
    }
    return h;
  }

  /// MurmurHash3's 64-bit finalizer: a bijection with full avalanche.
  [[nodiscard]] static constexpr std::uint64_t fmix64(std::uint64_t h) noexcept {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
  }

  /// The hash's top 53 bits as a number in [0, 1).
  [[nodiscard]] static constexpr double unit(std::uint64_t h) noexcept {
    return static_cast<double>(h >> 11) * 0x1p-53;
  }
};

/// Options of traffic_split.
struct traffic_split_options {
  /// Name of the split, hashed with every key: two splits with different names assign keys
  /// independently. Default "split". Range: any text, may be empty.
  std::string name{"split"};
  /// Relative weights of the arms (normalised by their sum); arm 0 is conventionally the
  /// champion / control. Default {0.5, 0.5}. Range: 1 to 16 finite values >= 0 with a
  /// positive sum.
  std::vector<double> weights{0.5, 0.5};
  /// Seed of the generator used when a request has no key. Default 0. Any value.
  std::uint64_t seed{0};
};

/// Assigns request keys to arms, the same way on every run and platform (see the file
/// comment for the hash), and requests without a key at random from a seeded generator.
///
/// Thread-safety: the keyed members are const and may be called from any thread; the
/// random members advance the generator and need one split per thread (or a lock).
class traffic_split {
 public:
  /// Most arms a split may have (the bounds live inline, so assignment never allocates).
  static constexpr std::size_t max_arms = 16;

  /// Validates the options. Errors: no weight, more than max_arms, a negative or non-finite
  /// weight, a zero sum.
  static result<traffic_split> make(const traffic_split_options& o) {
    const std::size_t k = o.weights.size();
    if (k == 0 || k > max_arms)
      return fail(errc::invalid_argument,
                  "traffic_split: weights must have 1 to 16 entries, got " + std::to_string(k));
    double total = 0.0;
    for (std::size_t i = 0; i < k; ++i) {
      const double w = o.weights[i];
      if (!(w >= 0.0 && std::isfinite(w)))
        return fail(errc::invalid_argument, "traffic_split: weights[" + std::to_string(i) +
                                                "] must be finite and >= 0, got " +
                                                detail::number(w));
      total += w;
    }
    if (!(total > 0.0) || !std::isfinite(total))
      return fail(
          errc::invalid_argument,
          "traffic_split: weights must have a positive, finite sum, got " + detail::number(total));
    traffic_split s;
    s.arms_ = k;
    s.salt_ = split_hash::fnv1a(split_hash::fnv1a(split_hash::fnv_offset, o.name), ":");
    s.rng_ = o.seed;
    std::size_t last_positive = 0;
    double run = 0.0;
    for (std::size_t i = 0; i < k; ++i) {
      run += o.weights[i];
      s.upper_[i] = run / total;
      s.share_[i] = o.weights[i] / total;
      if (o.weights[i] > 0.0) last_positive = i;
    }
    // Rounding may leave the running sum a hair below 1: the last arm that can take keys
    // ends at exactly 1, so every u in [0, 1) lands in some arm.
    for (std::size_t i = last_positive; i < k; ++i) s.upper_[i] = 1.0;
    return s;
  }

  /// The split hash of a string key (before reduction to [0, 1)).
  [[nodiscard]] std::uint64_t hash(std::string_view key) const noexcept {
    return split_hash::fmix64(split_hash::fnv1a(salt_, key));
  }
  /// The split hash of an integer key (its 8 little-endian bytes).
  [[nodiscard]] std::uint64_t hash(std::uint64_t key) const noexcept {
    return split_hash::fmix64(split_hash::fnv1a(salt_, key));
  }

  /// The key's fixed number in [0, 1).
  [[nodiscard]] double unit(std::string_view key) const noexcept {
    return split_hash::unit(hash(key));
  }
  /// The fixed number in [0, 1) of an integer key (hashed as its 8 little-endian bytes, so
  /// the integer 7 and the string "7" get different numbers).
  [[nodiscard]] double unit(std::uint64_t key) const noexcept {
    return split_hash::unit(hash(key));
  }

  /// True when the key is in a canary of `fraction` (u < fraction). Monotone in `fraction`;
  /// 0 takes no key, 1 every key; a NaN fraction takes no key (the champion serves).
  [[nodiscard]] bool in_canary(std::string_view key, double fraction) const noexcept {
    return unit(key) < fraction;
  }
  /// in_canary() for an integer key: unit(key) < fraction, monotone in `fraction` in [0, 1].
  [[nodiscard]] bool in_canary(std::uint64_t key, double fraction) const noexcept {
    return unit(key) < fraction;
  }

  /// The arm of a key, by the weights.
  [[nodiscard]] std::size_t arm(std::string_view key) const noexcept {
    return arm_for_unit(unit(key));
  }
  /// The arm of an integer key, by the weights: an index in [0, arms()), the same on every
  /// run for the same split name and weights.
  [[nodiscard]] std::size_t arm(std::uint64_t key) const noexcept {
    return arm_for_unit(unit(key));
  }

  /// The arm of a hash value: arm i takes [upper(i-1), upper(i)) of the unit interval.
  [[nodiscard]] std::size_t arm_for_hash(std::uint64_t h) const noexcept {
    return arm_for_unit(split_hash::unit(h));
  }

  /// The arm of a number in [0, 1); values >= 1 (or NaN) go to the last arm taking keys.
  [[nodiscard]] std::size_t arm_for_unit(double u) const noexcept {
    if (!(u < 1.0)) return last_taking_arm();
    // The bounds never decrease, so the arm is the number of bounds at or below u; counting
    // them has no data-dependent branch (a key's arm is random, so a search mispredicts).
    std::size_t arm = 0;
    for (std::size_t i = 0; i + 1 < arms_; ++i) arm += u >= upper_[i] ? 1U : 0U;
    return arm;
  }

  /// A random number in [0, 1) from the seeded generator: a Weyl sequence finalised by fmix64,
  /// the SplitMix construction (Steele, Lea and Flood, OOPSLA 2014).
  [[nodiscard]] double random_unit() noexcept {
    rng_ += 0x9e3779b97f4a7c15ULL;
    return split_hash::unit(split_hash::fmix64(rng_));
  }

  /// Random assignment for a request without a key: in the canary with probability
  /// `fraction`, deterministic for a given seed and call sequence.
  [[nodiscard]] bool random_in_canary(double fraction) noexcept { return random_unit() < fraction; }

  /// Random arm for a request without a key, by the weights.
  [[nodiscard]] std::size_t random_arm() noexcept { return arm_for_unit(random_unit()); }

  /// Number of arms.
  [[nodiscard]] std::size_t arms() const noexcept { return arms_; }
  /// The normalised weight of arm i. @pre i < arms()
  [[nodiscard]] double share(std::size_t i) const noexcept { return share_[i]; }

 private:
  traffic_split() = default;

  [[nodiscard]] std::size_t last_taking_arm() const noexcept {
    std::size_t i = arms_ - 1;
    while (i > 0 && share_[i] == 0.0) --i;
    return i;
  }

  std::array<double, max_arms> upper_{};
  std::array<double, max_arms> share_{};
  std::size_t arms_{0};
  std::uint64_t salt_{split_hash::fnv_offset};
  std::uint64_t rng_{0};
};

}  // namespace livefit

#endif  // LIVEFIT_DEPLOY_TRAFFIC_SPLIT_HPP
