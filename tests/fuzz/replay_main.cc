// A main for a fuzz target outside libFuzzer (the ordinary test build, gcc):
// runs the target on every seed api_seeds.h describes (as make_seeds.cc
// writes them) and then on ITERATIONS inputs mutated from them by a fixed
// pseudo-random sequence, so the target's checks run in every test build.
// The real fuzzing is tests/fuzz/run.sh (clang, libFuzzer).
// Usage: api_fuzz_replay [ITERATIONS]

#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "tests/fuzz/api_seeds.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

int Run(const std::string& input) {
  return LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()),
                                input.size());
}

std::string Random(std::mt19937& rng, size_t max) {
  std::string out(rng() % (max + 1), '\0');
  for (char& c : out) c = static_cast<char>(rng() & 0xff);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const int iterations = argc > 1 ? std::atoi(argv[1]) : 300;
  const auto& seeds = ycr::fuzz::ApiSeeds();
  std::mt19937 rng(15);
  int runs = 0;
  for (int i = -static_cast<int>(seeds.size()); i < iterations; ++i) {
    const ycr::fuzz::ApiSeed& seed =
        seeds[i < 0 ? i + seeds.size() : rng() % seeds.size()];
    size_t who = 0;
    for (size_t k = 0; k < ycr::fuzz::ApiIdentities().size(); ++k) {
      if (ycr::fuzz::ApiIdentities()[k].first == seed.organisation) who = k;
    }
    std::string input;
    ycr::fuzz::AddChunk(&input, seed.path);
    ycr::fuzz::AddChunk(&input,
                        std::string(1, static_cast<char>(i < 0 ? who : rng())));
    // Seeds as they are first; then every mode with random data, and for
    // mode 0 sometimes a well-formed field: an unknown number, or an enum
    // or string field's tag with a random value.
    const char mode = i < 0 ? 0 : static_cast<char>(rng() % 4);
    ycr::fuzz::AddChunk(&input, std::string(1, mode));
    std::string data = i < 0 ? "" : Random(rng, 24);
    if (i >= 0 && mode == 0 && rng() % 2 == 0) {
      // Field 1..15 as a varint, or length-delimited with random bytes.
      const int field = 1 + static_cast<int>(rng() % 15);
      if (rng() % 2 == 0) {
        data = std::string(1, static_cast<char>(field << 3)) +
               std::string(1, static_cast<char>(rng() & 0x7f));
      } else {
        const std::string bytes = Random(rng, 8);
        data = std::string(1, static_cast<char>((field << 3) | 2)) +
               std::string(1, static_cast<char>(bytes.size())) + bytes;
      }
    }
    ycr::fuzz::AddChunk(&input, data);
    ycr::fuzz::AddChunk(&input, Random(rng, 2));
    Run(input);
    ++runs;
  }
  std::cout << "api_fuzz_replay: " << runs
            << " inputs, the store held nothing the validator refuses\n";
  return 0;
}
