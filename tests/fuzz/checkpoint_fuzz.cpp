// libFuzzer target for the checkpoint and registry-manifest loaders: whatever the bytes, the
// loaders must refuse or accept without crashing, reading out of bounds or allocating
// without bound, and a refused load must leave the model unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>

#include <Eigen/Core>

#include "livefit/deploy/checkpoint.hpp"
#include "livefit/deploy/registry.hpp"

namespace {

/// A small checkpointable model with a validating loader (finite coefficients only).
template <int D>
struct fuzz_model {
  using scalar_type = double;
  using vector_type = Eigen::Matrix<double, D, 1>;
  static constexpr std::string_view checkpoint_type = "livefit.fuzz.linear";

  vector_type w = vector_type::Constant(D > 0 ? D : 3, 0.5);

  [[nodiscard]] Eigen::Index dim() const noexcept { return w.size(); }
  void save_state(livefit::byte_writer& out) const { out.put_matrix(w); }
  [[nodiscard]] livefit::status load_state(livefit::byte_reader& r) noexcept {
    vector_type t = w;
    if (!r.get_matrix(t)) return livefit::status::invalid_argument;
    if (!t.allFinite()) return livefit::status::non_finite_input;
    w = t;
    return livefit::status::ok;
  }
};

template <class Model>
void check_decode(std::span<const std::uint8_t> bytes) {
  Model m;
  const Model before = m;
  auto r = livefit::decode_model(bytes, m);
  // A refused load changes nothing; an accepted one leaves finite coefficients.
  if (!r.has_value() && !(m.w.array() == before.w.array()).all()) std::abort();
  if (r.has_value() && !m.w.allFinite()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  // Raw bytes as a whole file.
  check_decode<fuzz_model<2>>(bytes);
  check_decode<fuzz_model<Eigen::Dynamic>>(bytes);
  (void)livefit::registry<fuzz_model<2>>::check_manifest(bytes);

  // The same bytes as a payload inside a valid container, so the fuzzer reaches the
  // model's and the manifest's parsers past the checksum without a seed corpus.
  const auto wrapped = livefit::encode_checkpoint(fuzz_model<2>::checkpoint_type,
                                                  livefit::scalar_code::float64, 2, 0, bytes);
  check_decode<fuzz_model<2>>(wrapped);
  const auto manifest = livefit::encode_checkpoint(
      livefit::registry<fuzz_model<2>>::manifest_type, livefit::scalar_code::float64, 2, 0,
      bytes);
  (void)livefit::registry<fuzz_model<2>>::check_manifest(manifest);
  return 0;
}
